"""``ArtifactStore``: names relative to a root URI, read and written through fsspec.

The root is a folder (``/path`` or ``file:///path``) in the embedded default and a bucket
prefix (``s3://bucket/prefix``) for teams; callers only ever see relative, ``/``-separated
names, which are checked so nothing escapes the root.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import fsspec

from plinth.exceptions import NotFoundError, ValidationError

__all__ = ["ArtifactStore", "check_artifact_name"]

_CHUNK = 1 << 20
_OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}


def check_artifact_name(name: str, argument: str = "name") -> str:
    """Normalise a relative artifact name, refusing absolute paths and ``..``."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{argument} must be a non-empty relative path, got {name!r}.")
    clean = name.replace("\\", "/")
    if clean.startswith("/") or PurePosixPath(clean).is_absolute() or ":" in clean.split("/")[0]:
        raise ValidationError(
            f"{argument}={name!r} is absolute; give a path relative to the run, "
            "e.g. 'outputs/model.pkl'."
        )
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError(f"{argument}={name!r} contains '..'; artifact names stay inside.")
    if not parts:
        raise ValidationError(f"{argument}={name!r} names no file.")
    return "/".join(parts)


class ArtifactStore:
    """Files under ``root``; every method takes names relative to it."""

    def __init__(self, root: str | os.PathLike):
        root = os.fspath(root)
        options = {}
        if root.split("://")[0] in _OBJECT_STORES:
            # Several server processes write to one bucket: a cached listing would go stale.
            options["use_listings_cache"] = False
        self.fs, path = fsspec.core.url_to_fs(root, **options)
        self.root = path.rstrip("/")
        self.uri = root
        self.is_local = isinstance(self.fs, fsspec.implementations.local.LocalFileSystem)
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)

    def _path(self, name: str) -> str:
        return f"{self.root}/{check_artifact_name(name)}"

    def local_path(self, name: str) -> Path | None:
        """Where ``name`` lives on this machine's disk, for a folder root; else None."""
        return Path(self._path(name)) if self.is_local else None

    # -- write ---------------------------------------------------------------------------

    def put_file(self, name: str, local_path: str | os.PathLike) -> None:
        self.put_stream(name, open(local_path, "rb"), close=True)

    def put_bytes(self, name: str, data: bytes) -> None:
        path = self._path(name)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with self.fs.open(path, "wb") as out:
            out.write(data)

    def put_stream(self, name: str, stream: BinaryIO, *, close: bool = False) -> None:
        """Copy a stream in chunks; a partly written file never appears under ``name``."""
        path = self._path(name)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        temp = f"{path}.partial-{uuid.uuid4().hex[:8]}"
        try:
            with self.fs.open(temp, "wb") as out:
                shutil.copyfileobj(stream, out, _CHUNK)
            self.fs.mv(temp, path)
        except BaseException:
            if self.fs.exists(temp):
                self.fs.rm(temp)
            raise
        finally:
            if close:
                stream.close()

    def put_tree(self, prefix: str, local_dir: str | os.PathLike) -> list[str]:
        """Upload every file under ``local_dir`` to ``prefix/``; returns the names written."""
        local_dir = Path(local_dir)
        written = []
        for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            name = f"{prefix.rstrip('/')}/{file.relative_to(local_dir).as_posix()}"
            self.put_file(name, file)
            written.append(check_artifact_name(name))
        return written

    def copy(self, source: str, target: str) -> None:
        """Copy one file or a whole folder within this store."""
        src, dst = self._path(source), self._path(target)
        if self.fs.isdir(src):
            for name in self.list(source):
                rel = name[len(check_artifact_name(source)) + 1 :]
                self.copy(name, f"{target}/{rel}")
            return
        self.fs.makedirs(posixpath.dirname(dst), exist_ok=True)
        self.fs.copy(src, dst)

    def put_blob(self, local_path: str | os.PathLike) -> str:
        """Store a file by content; returns its sha256 (stored once however often put)."""
        digest = file_sha256(local_path)
        name = blob_name(digest)
        if not self.exists(name):
            self.put_file(name, local_path)
        return digest

    # -- read ----------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.fs.exists(self._path(name))

    def isdir(self, name: str) -> bool:
        return self.fs.isdir(self._path(name))

    def size(self, name: str) -> int:
        return self.fs.size(self._path(name))

    def open(self, name: str, mode: str = "rb"):
        try:
            return self.fs.open(self._path(name), mode)
        except FileNotFoundError:
            raise NotFoundError(f"No artifact named {name!r}.") from None

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def read_from(self, name: str, offset: int) -> bytes:
        """Bytes of ``name`` from ``offset`` on (b'' when it does not exist yet)."""
        try:
            with self.fs.open(self._path(name), "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def get_file(self, name: str, local_path: str | os.PathLike) -> None:
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        with self.open(name) as src, open(local_path, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)

    def list(self, prefix: str = "") -> list[str]:
        """Names of all files under ``prefix`` (recursively), sorted."""
        base = self._path(prefix) if prefix else self.root
        if not self.fs.exists(base):
            return []
        if not self.fs.isdir(base):
            return [check_artifact_name(prefix)]
        found = self.fs.find(base)
        cut = len(self.root.rstrip("/")) + 1
        return sorted(p[cut:] for p in (f.rstrip("/") for f in found) if ".partial-" not in p)

    # -- delete --------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        path = self._path(name)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def delete_root(self) -> None:
        if self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)


def blob_name(digest: str) -> str:
    return f"blobs/sha256/{digest[:2]}/{digest}"


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()
