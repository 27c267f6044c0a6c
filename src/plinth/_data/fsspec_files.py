"""Files over fsspec or a server's artifact API: the ``DatastoreFiles`` implementations.

``FsspecFiles`` holds one fsspec filesystem under a root (built, and connected, on first use)
and reports failures as ``DataAccessError`` naming its ``Place``; ``ArtifactFiles`` holds a
folder of a workspace server's artifacts. Both match globs by listing (``match_names``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import fsspec

from plinth._artifacts.store import check_artifact_name
from plinth._data.files import DatastoreFiles
from plinth._data.storage_errors import classify, first_line, redact
from plinth.exceptions import DataAccessError, NotFoundError, PlinthError, UserErrorException

__all__ = ["OBJECT_STORES", "ArtifactFiles", "FsspecFiles", "Place", "glob_regex",
           "has_wildcard", "match_names"]

#: fsspec protocols of object stores (no folders, no partial objects, listings may be stale).
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}
_WILDCARDS = "*?["
_PARTIAL = ".partial-"


@dataclass(frozen=True)
class Place:
    """What error messages say about where the files are and what to check."""

    label: str            # "datastore 'raw'" or "'s3://bucket/x'"
    uri: str              # without credentials
    endpoint: str         # the service reached
    container: str | None  # the bucket, container, share or folder that must exist
    container_word: str   # "bucket", "container", ...
    credentials: str      # what credentials to check
    fix: str              # the first words of the advice


class FsspecFiles:
    """A ``DatastoreFiles`` over one fsspec filesystem, under ``root``.

    ``protocol`` and ``storage_options`` say what filesystem is built; it is built (and
    connects) on first use of ``fs``. Safe to share between threads.
    """

    def __init__(self, protocol: str, storage_options: Mapping[str, Any], root: str,
                 place: Place, *, secrets: Any = (), suffix: str = ""):
        self.protocol = protocol
        self.storage_options = dict(storage_options)
        self.root = root.rstrip("/") if root != "/" else ""
        self.uri = place.uri
        self._place = place
        self._secrets = tuple(s for s in secrets if s)
        self._suffix = suffix  # a URL's query (a SAS token), appended to every path
        self._is_local = protocol in ("file", "local")
        self._is_object_store = protocol in OBJECT_STORES
        self._fs: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FsspecFiles({self.uri!r})"

    @property
    def fs(self) -> Any:
        if self._fs is None:
            with self._lock:
                if self._fs is None:
                    self.check_reachable()
                    try:
                        self._fs = fsspec.filesystem(self.protocol, **self.storage_options)
                    except ImportError as exc:
                        raise DataAccessError(
                            f"Reading {self._place.label} needs the package behind fsspec's "
                            f"{self.protocol!r} filesystem: {exc}. Install plinth[data]."
                        ) from exc
                    except Exception as exc:
                        raise self._error(exc, "connect to", "") from exc
        return self._fs

    # -- names -----------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return f"{self.root}/{check_artifact_name(name)}"

    def full_path(self, name: str) -> str:
        return self._path(name) + self._suffix

    def local_path(self, name: str) -> Path | None:
        return Path(self._path(name)) if self._is_local else None

    def _names(self, paths: Any) -> list[str]:
        start = f"{self.root}/"
        names = []
        for path in paths:
            path = path.rstrip("/")
            if path.startswith(start) and _PARTIAL not in path:
                names.append(path[len(start):])
        return sorted(names)

    # -- reads -----------------------------------------------------------------------------

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else (self.root or "/")
        with self._errors("list", prefix):
            try:
                found = self.fs.find(base + self._suffix)
            except FileNotFoundError:
                found = []
        if not found:
            self._check_container()
        return self._names(found)

    def glob(self, pattern: str) -> list[str]:
        if not has_wildcard(pattern):
            name = check_artifact_name(pattern, "pattern")
            with self._errors("find", name):
                try:
                    info = self.fs.info(self.full_path(name))
                except FileNotFoundError:
                    self._check_container()
                    return []
            return [name] if info.get("type") != "directory" else self.list(name)
        return match_names(self, pattern)

    def stat(self, name: str) -> dict[str, Any]:
        with self._errors("read", name):
            info = self.fs.info(self.full_path(name))
        if info.get("type") == "directory":
            raise NotFoundError(f"{name!r} in {self._place.label} is a folder, not a file.")
        etag = info.get("ETag") or info.get("etag")
        return {"size": info.get("size"), "etag": str(etag).strip('"') if etag else None,
                "mtime": _mtime(info)}

    def exists(self, name: str) -> bool:
        with self._errors("check", name):
            return bool(self.fs.exists(self.full_path(name)))

    def open(self, name: str) -> IO[bytes]:
        with self._errors("open", name):
            return self.fs.open(self.full_path(name), "rb")

    def get_file(self, name: str, local_path: str | os.PathLike) -> None:
        target = Path(local_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}{_PARTIAL}{uuid.uuid4().hex[:8]}")
        try:
            with self._errors("download", name):
                self.fs.get_file(self.full_path(name), str(temp))
            if temp.is_dir():  # ``name`` is a folder: fsspec made one
                raise NotFoundError(f"{name!r} in {self._place.label} is a folder, not a file.")
            os.replace(temp, target)
        finally:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            else:
                temp.unlink(missing_ok=True)

    # -- writes ----------------------------------------------------------------------------

    def put_file(self, local_path: str | os.PathLike, name: str) -> None:
        path = self.full_path(name)
        if not os.path.isfile(local_path):
            raise DataAccessError(f"Cannot upload {os.fspath(local_path)!r}: it is not a file.")
        with self._errors("upload", name):
            if self._is_object_store:
                # An object appears only once its upload completes: nothing partial to hide.
                self.fs.put_file(os.fspath(local_path), path)
            elif self._is_local:
                self.fs.makedirs(path.rpartition("/")[0], exist_ok=True)
                temp = f"{path}{_PARTIAL}{uuid.uuid4().hex[:8]}"
                try:
                    self.fs.put_file(os.fspath(local_path), temp)
                    os.replace(temp, path)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp)
            else:
                self.fs.makedirs(path.rpartition("/")[0], exist_ok=True)
                # Written to a temporary name, renamed over ``name`` on commit (SMB).
                with open(local_path, "rb") as src:
                    out = self.fs.open(path, "wb", autocommit=False)
                    try:
                        shutil.copyfileobj(src, out, 1 << 20)
                        out.close()
                        out.commit()
                    except BaseException:
                        with contextlib.suppress(Exception):
                            out.close()
                            out.discard()
                        raise

    def delete(self, name: str) -> None:
        path = self.full_path(name)
        with self._errors("delete", name):
            if self.fs.exists(path):
                self.fs.rm(path, recursive=True)

    # -- errors ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        try:
            yield
        except PlinthError:
            raise
        except FileNotFoundError as exc:
            if classify(exc) == "missing" or self._container_missing():
                raise self._missing_container() from None
            raise NotFoundError(
                f"No file {name!r} in {self._place.label} ({self.uri})."
            ) from None
        except Exception as exc:
            raise self._error(exc, action, name) from exc

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Fail at once (a DataAccessError with reason 'unreachable') when the service's
        host does not accept connections, instead of after a client library's retries."""
        host, port = _host_port(self._place.endpoint)
        if host is None:
            return
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            place = self._place
            raise DataAccessError(
                f"Could not reach {place.endpoint} for {place.label} ({self.uri}): {exc}. "
                "Check the endpoint and account names and that the service is running and "
                f"reachable from this machine. {place.fix}.",
                reason="unreachable",
            ) from None

    def _container_missing(self) -> bool:
        place = self._place
        if place.container is None:
            return False
        try:
            if self._is_local:
                return not os.path.isdir(place.container)
            return not self.fs.exists(place.container)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            return False

    def _check_container(self) -> None:
        if self._container_missing():
            raise self._missing_container()

    def _missing_container(self) -> DataAccessError:
        place = self._place
        return DataAccessError(
            f"The {place.container_word} {place.container!r} of {place.label} ({self.uri}) "
            f"does not exist at {place.endpoint}. Create it, or check its name: {place.fix}.",
            reason="missing",
        )

    def _error(self, exc: BaseException, action: str, name: str) -> DataAccessError:
        place = self._place
        what = f"{name!r} on {place.label}" if name else place.label
        detail = redact(first_line(exc), self._secrets)
        kind = classify(exc)
        if kind == "missing":
            return self._missing_container()
        if kind == "auth":
            return DataAccessError(
                f"{place.endpoint} refused the credentials of {place.label} ({self.uri})"
                f"{f' to {action} {name!r}' if name else ''}: {detail}. Check its "
                f"{place.credentials}. {place.fix}.",
                reason="auth",
            )
        if kind == "unreachable":
            return DataAccessError(
                f"Could not reach {place.endpoint} to {action} {what} ({self.uri}): {detail}. "
                f"Check the endpoint and account names and that the service is running and "
                f"reachable from this machine. {place.fix}.",
                reason="unreachable",
            )
        return DataAccessError(f"Could not {action} {what} ({self.uri}): {detail}")


class ArtifactFiles:
    """A ``DatastoreFiles`` over a folder of a workspace server's artifacts (its built-in
    datastores), read and written through the server's API."""

    fs = None

    def __init__(self, artifacts: Any, prefix: str, label: str):
        self.artifacts = artifacts
        self.root = check_artifact_name(prefix, "prefix")
        self.uri = f"{artifacts.uri}/{self.root}"
        self._label = label

    def __repr__(self) -> str:
        return f"ArtifactFiles({self.uri!r})"

    def full_path(self, name: str) -> str:
        return f"{self.root}/{check_artifact_name(name)}"

    def local_path(self, name: str) -> Path | None:
        return None

    def list(self, prefix: str = "") -> list[str]:
        base = self.full_path(prefix) if prefix else self.root
        cut = len(self.root) + 1
        return sorted(n[cut:] for n in self.artifacts.list(base)
                      if n.startswith(f"{self.root}/") and _PARTIAL not in n)

    def glob(self, pattern: str) -> list[str]:
        if not has_wildcard(pattern):
            return self.list(check_artifact_name(pattern, "pattern"))
        return match_names(self, pattern)

    def stat(self, name: str) -> dict[str, Any]:
        try:
            size = self.artifacts.size(self.full_path(name))
        except NotFoundError:
            raise NotFoundError(f"No file {name!r} in {self._label} ({self.uri}).") from None
        return {"size": size, "etag": None, "mtime": None}

    def exists(self, name: str) -> bool:
        return self.artifacts.exists(self.full_path(name))

    def open(self, name: str) -> IO[bytes]:
        try:
            return self.artifacts.open(self.full_path(name))
        except NotFoundError:
            raise NotFoundError(f"No file {name!r} in {self._label} ({self.uri}).") from None

    def get_file(self, name: str, local_path: str | os.PathLike) -> None:
        self.artifacts.get_file(self.full_path(name), local_path)

    def put_file(self, local_path: str | os.PathLike, name: str) -> None:
        self.artifacts.put_file(self.full_path(name), local_path)

    def delete(self, name: str) -> None:
        self.artifacts.delete(self.full_path(name))


# -- globs -------------------------------------------------------------------------------------


def match_names(files: DatastoreFiles, pattern: str) -> list[str]:
    """The files whose name, or one of whose folders, matches ``pattern`` (so a pattern that
    matches a folder brings every file under it, as a folder without wildcards does)."""
    clean = pattern.replace("\\", "/").strip("/")
    segments = [s for s in clean.split("/") if s not in ("", ".")]
    if not segments or ".." in segments:
        raise UserErrorException(
            f"pattern={pattern!r} must be a relative path with wildcards, e.g. 'data/*.csv'."
        )
    fixed = []
    for segment in segments:
        if has_wildcard(segment):
            break
        fixed.append(segment)
    regex = glob_regex("/".join(segments))
    found = []
    for name in files.list("/".join(fixed)):
        parts = name.split("/")
        if any(regex.fullmatch("/".join(parts[:i])) for i in range(len(parts), 0, -1)):
            found.append(name)
    return found


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` within one folder, ``[...]`` a character, ``**`` any folders."""
    segments = pattern.split("/")
    out = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out.append(".+" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(out))


def _segment_regex(segment: str) -> str:
    out, i = [], 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in segment[i + 2:]:
            end = segment.index("]", i + 2)
            body = segment[i + 1:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def has_wildcard(text: str) -> bool:
    return any(c in text for c in _WILDCARDS)


def _mtime(info: Mapping[str, Any]) -> float | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) else None


def _host_port(endpoint: str) -> tuple[str | None, int]:
    """The host and port behind a place's endpoint (None for a local disk)."""
    if endpoint == "AWS S3":
        return "s3.amazonaws.com", 443
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    host, sep, port = endpoint.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (None, 0)
