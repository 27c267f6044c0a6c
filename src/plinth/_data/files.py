"""``DatastoreFiles``: what every datastore offers, whatever storage is underneath."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Protocol

__all__ = ["DatastoreFiles"]


class DatastoreFiles(Protocol):
    """One datastore's files, named by ``/``-separated paths relative to its root.

    Names are checked like artifact names (no absolute paths, no ``..``). Implementations
    are safe to share between threads (transfers run in a thread pool).
    """

    #: The root as a URI (``/abs/folder``, ``s3://bucket/prefix``, ``abfs://container``, ...),
    #: for messages and lineage. Never contains credentials.
    uri: str

    #: The fsspec filesystem and the root path within it, when reads can go through fsspec
    #: directly (None for a server workspace's built-in datastores, read via its API).
    fs: Any
    root: str

    def list(self, prefix: str = "") -> list[str]:
        """Names of all files under ``prefix`` (recursively), sorted; [] when none."""

    def glob(self, pattern: str) -> list[str]:
        """Names matching ``pattern`` (``*`` within one folder, ``**`` across folders, ``?``),
        sorted. A pattern without wildcards names a file (-> [it]) or a folder (-> every file
        under it); [] when nothing matches."""

    def stat(self, name: str) -> dict[str, Any]:
        """``{"size": int, "etag": str | None, "mtime": float | None}``; NotFoundError."""

    def exists(self, name: str) -> bool: ...

    def open(self, name: str) -> IO[bytes]:
        """A binary file object for reading; NotFoundError when missing."""

    def local_path(self, name: str) -> Path | None:
        """Where ``name`` lives on this machine's disk (a folder datastore), else None."""

    def full_path(self, name: str) -> str:
        """``name`` as a path in ``fs`` (for pyarrow/fsspec readers)."""

    def get_file(self, name: str, local_path: str | os.PathLike) -> None:
        """Copy ``name`` to ``local_path`` (parents created, written atomically)."""

    def put_file(self, local_path: str | os.PathLike, name: str) -> None:
        """Copy a local file to ``name`` (a partly written file never appears)."""

    def delete(self, name: str) -> None: ...
