"""``FileDataset``: a set of files (images, documents, anything) to download or mount."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from plinth.data.abstract_dataset import AbstractDataset
from plinth.exceptions import UserErrorException

__all__ = ["FileDataset", "MountContext"]

log = logging.getLogger(__name__)


class FileDataset(AbstractDataset):
    _kind = "file"

    def _files_now(self) -> list[Any]:
        from plinth._data.resolve import kept_files

        return kept_files(self._resolved(), self._transforms())

    def to_path(self) -> list[str]:
        """The files' paths relative to the dataset's base folder (``/a/b.jpg``)."""
        return ["/" + f.relname for f in self._files_now()]

    def download(self, target_path: str | os.PathLike | None = None,
                 overwrite: bool = False, ignore_not_found: bool = False) -> list[str]:
        """Download the files into ``target_path`` (a new temporary folder by default),
        keeping their relative paths; returns the local paths."""
        from plinth._data.transfer import download_pairs

        target = Path(target_path or tempfile.mkdtemp(prefix="plinth-dataset-")).resolve()
        files = self._files_now()
        pairs = [(f.files, f.name, target / f.relname) for f in files]
        download_pairs(pairs, overwrite=overwrite, show_progress=False)
        return [str(p) for _, _, p in pairs]

    def mount(self, mount_point: str | os.PathLike | None = None, **kwargs: Any
              ) -> "MountContext":
        """A context manager that makes the files appear under ``mount_point``."""
        return MountContext(self, mount_point)


class MountContext:
    """The files of a FileDataset under one folder, for as long as the context lasts.

    Plinth has no FUSE driver: files already on this machine's disk are linked in place
    (nothing is copied), and others are downloaded on start into the mount point, which
    then acts as a read-through cache; ``stop()`` removes it."""

    def __init__(self, dataset: FileDataset, mount_point: str | os.PathLike | None = None):
        self._dataset = dataset
        self._owned = mount_point is None
        self.mount_point = str(Path(mount_point or tempfile.mkdtemp(prefix="plinth-mount-"))
                               .resolve())

    def start(self) -> None:
        from plinth._data.resolve import place_files

        root = Path(self.mount_point)
        if root.exists() and any(root.iterdir()):
            raise UserErrorException(f"mount_point={self.mount_point!r} is not empty.")
        copied = place_files(self._dataset._files_now(), root, link_local=True)
        if copied:
            log.warning("No FUSE mount is available: %d file(s) were downloaded into %s as a "
                        "local cache.", copied, self.mount_point)

    def stop(self) -> None:
        root = Path(self.mount_point)
        if self._owned:
            shutil.rmtree(root, ignore_errors=True)
        elif root.exists():
            for child in root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink()

    def __enter__(self) -> "MountContext":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
