"""``RestArtifactStore``: a workspace's files through its server, streamed both ways.

It offers the methods of :class:`~plinth._artifacts.store.ArtifactStore` the SDK uses, so a
workspace on a server behaves like a local one; there is no local path to any file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, BinaryIO
from urllib.parse import quote

from plinth._api.client import ApiClient
from plinth._artifacts.store import blob_name, check_artifact_name, file_sha256
from plinth.exceptions import NotFoundError

__all__ = ["RestArtifactStore"]

_CHUNK = 1 << 20
_SMALL = 8 << 20


class RestArtifactStore:
    is_local = False

    def __init__(self, client: ApiClient, workspace_name: str):
        self.client = client
        self._base = f"/workspaces/{quote(workspace_name, safe='')}"
        self.uri = f"{client.server_url}/api/v1{self._base}/artifacts"

    def _path(self, name: str) -> str:
        return f"{self._base}/artifacts/{quote(check_artifact_name(name), safe='/')}"

    def local_path(self, name: str) -> Path | None:
        return None

    # -- write ---------------------------------------------------------------------------

    def put_file(self, name: str, local_path: str | os.PathLike) -> None:
        # Send a copy taken now: the file may still be growing (a live log), and the body
        # must match the length declared when the request started.
        with open(local_path, "rb") as f:
            if os.fstat(f.fileno()).st_size <= _SMALL:
                self.put_bytes(name, f.read())
                return
            with tempfile.TemporaryFile() as copy:
                shutil.copyfileobj(f, copy, _CHUNK)
                self.put_stream(name, copy)

    def put_bytes(self, name: str, data: bytes) -> None:
        self.client.send("PUT", self._path(name), content=data)

    def put_stream(self, name: str, stream: BinaryIO, *, close: bool = False) -> None:
        try:
            if not hasattr(stream, "seek") or not _seekable(stream):
                spooled = tempfile.SpooledTemporaryFile(max_size=8 << 20)
                shutil.copyfileobj(stream, spooled, _CHUNK)
                stream = spooled
            stream.seek(0)
            # httpx streams a file object in chunks and the client rewinds it to retry.
            self.client.send("PUT", self._path(name), content=stream)
        finally:
            if close:
                stream.close()

    def put_tree(self, prefix: str, local_dir: str | os.PathLike) -> list[str]:
        local_dir = Path(local_dir)
        written = []
        for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            rel = file.relative_to(local_dir).as_posix()
            name = check_artifact_name(f"{prefix.rstrip('/')}/{rel}")
            self.put_file(name, file)
            written.append(name)
        return written

    def copy(self, source: str, target: str) -> None:
        self.client.call("POST", f"{self._base}/artifacts-copy",
                         body={"source": check_artifact_name(source),
                               "target": check_artifact_name(target)}, idempotent=True)

    def put_blob(self, local_path: str | os.PathLike) -> str:
        digest = file_sha256(local_path)
        if not self.exists(blob_name(digest)):
            self.put_file(blob_name(digest), local_path)
        return digest

    # -- read ----------------------------------------------------------------------------

    def _stat(self, name: str) -> dict[str, str] | None:
        response = self.client.send("HEAD", self._path(name), ok_missing=True)
        return None if response is None else dict(response.headers)

    def exists(self, name: str) -> bool:
        return self._stat(name) is not None

    def isdir(self, name: str) -> bool:
        stat = self._stat(name)
        return stat is not None and stat.get("x-plinth-kind") == "dir"

    def size(self, name: str) -> int:
        stat = self._stat(name)
        if stat is None or stat.get("x-plinth-kind") != "file":
            raise NotFoundError(f"No artifact named {name!r}.")
        return int(stat["x-plinth-size"])

    def open(self, name: str, mode: str = "rb") -> IO[bytes]:
        if mode != "rb":
            raise ValueError("Files of a workspace on a server open for reading only ('rb').")
        spooled = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        self._download(name, spooled)
        spooled.seek(0)
        return spooled

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def read_from(self, name: str, offset: int) -> bytes:
        try:
            with self.client.stream(self._path(name), params={"offset": offset}) as response:
                return response.read()
        except NotFoundError:
            return b""

    def get_file(self, name: str, local_path: str | os.PathLike) -> None:
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        partial = local_path.with_name(f".{local_path.name}.partial")
        try:
            with open(partial, "wb") as out:
                self._download(name, out)
            partial.replace(local_path)
        finally:
            partial.unlink(missing_ok=True)

    def _download(self, name: str, out: IO[bytes]) -> None:
        with self.client.stream(self._path(name)) as response:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)

    def list(self, prefix: str = "") -> list[str]:
        params = {"prefix": check_artifact_name(prefix, "prefix")} if prefix else {}
        names: list[str] = []
        token = None
        while True:
            page = self.client.call("GET", f"{self._base}/artifacts",
                                    params={**params, "page_token": token} if token else params)
            names.extend(page["items"])
            token = page.get("next_page_token")
            if not token:
                return names

    # -- delete --------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        self.client.send("DELETE", self._path(name))

    def delete_root(self) -> None:
        """The server deletes a workspace's files with the workspace."""


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False
