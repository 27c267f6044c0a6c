"""From a datastore record (or a URL) to its files: ``DatastoreFiles`` over fsspec.

Each kind maps to a plain fsspec filesystem: local folders, s3fs, adlfs (Azure Blob and
ADLS Gen2), and fsspec's ``smb`` for Azure Files (which speaks SMB 3). Credentials come from
the workspace key vault when the files are opened and never appear in ``uri`` nor in error
messages. Filesystems connect on first use, so building one never touches the network.
"""

from __future__ import annotations

import contextlib
import ipaddress
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
from urllib.parse import quote, urlsplit, urlunsplit

import fsspec

from plinth._artifacts.store import check_artifact_name
from plinth._data.files import DatastoreFiles
from plinth._store.base import DatastoreRecord
from plinth.exceptions import DataAccessError, NotFoundError, PlinthError, UserErrorException

__all__ = ["ArtifactFiles", "FsspecFiles", "open_datastore", "open_url", "sql_url"]

_OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}
_WILDCARDS = "*?["
_PARTIAL = ".partial-"

#: How to register each kind again (the azureml name), for messages.
_REGISTER = {
    "AzureBlob": "Datastore.register_azure_blob_container",
    "AzureFile": "Datastore.register_azure_file_share",
    "AzureDataLakeGen2": "Datastore.register_azure_data_lake_gen2",
    "S3": "Datastore.register_s3",
    "Local": "Datastore.register_local",
    "AzurePostgreSql": "Datastore.register_azure_postgre_sql",
}


# -- opening ---------------------------------------------------------------------------------


def open_datastore(location: Any, record: DatastoreRecord) -> DatastoreFiles:
    """The files of ``record`` (a datastore of the workspace at ``location``)."""
    if record.config.get("builtin"):
        return _builtin(location, record)
    if record.kind == "AzurePostgreSql":
        raise UserErrorException(
            f"Datastore {record.name!r} is a PostgreSQL database, not a file store: read it "
            "with Dataset.Tabular.from_sql_query((datastore, 'SELECT ...'))."
        )
    opener = _OPENERS.get(record.kind)
    if opener is None:
        raise DataAccessError(
            f"Datastore {record.name!r} has kind {record.kind!r}, which this version of Plinth "
            f"cannot open (it knows {', '.join(sorted(_OPENERS))}). Upgrade Plinth or register "
            "the datastore again."
        )
    return opener(record, _credentials(location, record))


def sql_url(location: Any, record: DatastoreRecord) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://user:password@host:port/db``) for a
    PostgreSQL datastore; it holds the password, so never print it."""
    if record.kind != "AzurePostgreSql":
        raise UserErrorException(
            f"Datastore {record.name!r} is a {record.kind} datastore, not a database; "
            "from_sql_query needs one registered with Datastore.register_azure_postgre_sql()."
        )
    config = record.config
    password = _credentials(location, record).get("user_password")
    host = _pg_host(str(config["server_name"]),
                    config.get("endpoint") or "postgres.database.azure.com")
    user = quote(str(config["user_id"]), safe="")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    port = int(config.get("port_number") or 5432)
    url = f"postgresql+psycopg://{auth}@{host}:{port}/{quote(str(config['database_name']))}"
    return url + ("?sslmode=require" if config.get("enforce_ssl", True) else "")


def open_url(url_or_path: str) -> tuple[DatastoreFiles, str]:
    """Files rooted at the longest folder of ``url_or_path`` without wildcards, and the rest
    as a pattern: ``/data/x/*.csv`` -> (files at ``/data/x``, ``*.csv``); ``https://h/a/b.csv``
    -> (files at ``https://h/a``, ``b.csv``); a bare bucket or host -> (it, ``**``)."""
    if not isinstance(url_or_path, str) or not url_or_path.strip():
        raise UserErrorException(
            f"path must be a URL or a local path, got {url_or_path!r}; e.g. "
            "'s3://bucket/data/*.csv' or '/data/*.parquet'."
        )
    text = url_or_path.strip()
    protocol = fsspec.core.split_protocol(text)[0]
    if protocol in ("wasb", "wasbs"):  # azureml's name for the same blob URLs
        text, protocol = "abfs" + text[len(protocol):], "abfs"
    query = ""
    if protocol in (None, "file", "local"):
        path = text[len("file://"):] if text.startswith("file://") else text
        anchor, rest = "/", os.path.abspath(os.path.expanduser(path)).lstrip("/")
        protocol = "file"
    elif protocol in ("http", "https"):
        parts = urlsplit(text)
        anchor, rest = urlunsplit((parts.scheme, parts.netloc, "", "", "")), parts.path
        query = f"?{parts.query}" if parts.query else ""
    else:
        anchor, _, rest = text.partition("://")
        first, _, rest = rest.partition("/")
        anchor = f"{anchor}://{first}"
    segments = [s for s in rest.split("/") if s]
    if not segments:
        return _url_files(anchor, protocol, query), "**"
    cut = next((i for i, s in enumerate(segments) if _has_wildcard(s)), len(segments) - 1)
    folder = "/".join(segments[:cut])
    root = f"{anchor.rstrip('/')}/{folder}" if folder else anchor
    return _url_files(root, protocol, query), "/".join(segments[cut:])


def _url_files(root: str, protocol: str, query: str) -> FsspecFiles:
    cls = fsspec.get_filesystem_class(protocol)
    options: dict[str, Any] = cls._get_kwargs_from_urls(root)
    if protocol in _OBJECT_STORES:
        options["use_listings_cache"] = False
    path = cls._strip_protocol(root)
    shown = _redact_url(root)
    container = path.split("/")[0] if protocol in _OBJECT_STORES else None
    place = _Place(label=repr(shown), uri=shown, endpoint=_endpoint_of(root, protocol),
                   container=container, container_word=_container_word(protocol),
                   credentials=_ENV_CREDENTIALS.get(protocol, "the credentials"),
                   fix="Check the URL")
    return FsspecFiles(protocol, options, path, place, suffix=query)


_ENV_CREDENTIALS = {
    "s3": "AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws)",
    "abfs": "Azure credentials (AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN, ...)",
    "http": "URL (a SAS token may have expired)",
    "https": "URL (a SAS token may have expired)",
}


# -- one builder per kind ----------------------------------------------------------------------


def _builtin(location: Any, record: DatastoreRecord) -> DatastoreFiles:
    prefix = check_artifact_name(str(record.config.get("prefix") or ""), "prefix")
    label = f"datastore {record.name!r}"
    if location.server_url:
        return ArtifactFiles(location.artifacts(), prefix, label)
    root = f"{str(location.artifact_root).rstrip('/')}/{prefix}"
    protocol = fsspec.core.split_protocol(root)[0] or "file"
    cls = fsspec.get_filesystem_class(protocol)
    options: dict[str, Any] = cls._get_kwargs_from_urls(root)
    if protocol in _OBJECT_STORES:
        options["use_listings_cache"] = False
    path = cls._strip_protocol(root)
    if protocol in ("file", "local"):
        os.makedirs(path, exist_ok=True)
    place = _Place(label=label, uri=_redact_url(root), endpoint=_endpoint_of(root, protocol),
                   container=path.split("/")[0] if protocol in _OBJECT_STORES else None,
                   container_word=_container_word(protocol),
                   credentials="credentials of the workspace's artifact root in this "
                               "process's environment",
                   fix="Check the workspace's artifact_root")
    return FsspecFiles(protocol, options, path, place)


def _azure_blob(record: DatastoreRecord, secrets: Mapping[str, str]) -> FsspecFiles:
    return _adlfs(record, secrets, str(record.config["container_name"]), "blob")


def _azure_gen2(record: DatastoreRecord, secrets: Mapping[str, str]) -> FsspecFiles:
    return _adlfs(record, secrets, str(record.config["filesystem"]), "dfs")


def _adlfs(record: DatastoreRecord, secrets: Mapping[str, str], container: str,
           service: str) -> FsspecFiles:
    config = record.config
    account = str(config["account_name"])
    endpoint = str(config.get("endpoint") or "core.windows.net")
    scheme = str(config.get("protocol") or "https")
    if endpoint.startswith(("http://", "https://")):
        account_url = endpoint.rstrip("/")  # a whole account URL, as Azurite's
        uri = f"{account_url}/{container}"
    else:
        account_url = f"{scheme}://{account}.blob.{endpoint}"
        uri = f"abfs://{container}@{account}.{service}.{endpoint}"
    options: dict[str, Any] = {"account_name": account, "use_listings_cache": False}
    endpoint_part = f"BlobEndpoint={account_url};AccountName={account};"
    if secrets.get("account_key"):
        options["connection_string"] = (
            f"DefaultEndpointsProtocol={urlsplit(account_url).scheme};{endpoint_part}"
            f"AccountKey={secrets['account_key']};"
        )
    elif secrets.get("sas_token"):
        options["connection_string"] = (
            f"{endpoint_part}SharedAccessSignature={secrets['sas_token'].lstrip('?')};"
        )
    else:
        # A service principal, or (no secret) the default Azure credential chain.
        options["account_host"] = urlsplit(account_url).netloc
        for key in ("tenant_id", "client_id"):
            if config.get(key):
                options[key] = str(config[key])
        if secrets.get("client_secret"):
            options["client_secret"] = secrets["client_secret"]
    word = "container" if service == "blob" else "filesystem"
    what = ("account key or SAS token" if record.kind == "AzureBlob"
            else "service principal (tenant_id, client_id, client_secret) or account key")
    place = _datastore_place(record, uri, account_url, container, word, what)
    return FsspecFiles("abfs", options, container, place, secrets=secrets.values())


def _azure_file(record: DatastoreRecord, secrets: Mapping[str, str]) -> FsspecFiles:
    config = record.config
    account = str(config["account_name"])
    share = str(config["file_share_name"])
    endpoint = str(config.get("endpoint") or "core.windows.net")
    if endpoint.startswith(("http://", "https://")):
        host = urlsplit(endpoint).hostname or endpoint
    else:
        host = f"{account}.file.{endpoint}"
    options: dict[str, Any] = {"host": host, "port": 445, "username": account,
                               "password": secrets.get("account_key"), "encrypt": True}
    uri = f"smb://{host}/{share}"
    place = _datastore_place(record, uri, f"{host}:445", None, "share", "account key")
    return FsspecFiles("smb", options, f"/{share}", place, secrets=secrets.values())


def _s3(record: DatastoreRecord, secrets: Mapping[str, str]) -> FsspecFiles:
    config = record.config
    bucket = str(config["bucket"]).strip("/")
    prefix = str(config.get("prefix") or "").strip("/")
    options: dict[str, Any] = {"use_listings_cache": False}
    if secrets.get("access_key_id"):
        options["key"] = secrets["access_key_id"]
        options["secret"] = secrets.get("secret_access_key")
    if config.get("endpoint_url"):
        options["endpoint_url"] = str(config["endpoint_url"])
    if config.get("region"):
        options["client_kwargs"] = {"region_name": str(config["region"])}
    root = f"{bucket}/{prefix}" if prefix else bucket
    place = _datastore_place(record, f"s3://{root}",
                             str(config.get("endpoint_url") or "AWS S3"), bucket, "bucket",
                             "access key id and secret access key (without them: the default "
                             "AWS credentials of this machine)")
    return FsspecFiles("s3", options, root, place, secrets=secrets.values())


def _local(record: DatastoreRecord, secrets: Mapping[str, str]) -> FsspecFiles:
    folder = str(record.config["path"]).rstrip("/") or "/"
    place = _datastore_place(record, folder, "this machine's disk", folder, "folder",
                             "file permissions")
    return FsspecFiles("file", {}, folder, place)


_OPENERS = {
    "AzureBlob": _azure_blob,
    "AzureDataLakeGen2": _azure_gen2,
    "AzureFile": _azure_file,
    "S3": _s3,
    "Local": _local,
}


def _credentials(location: Any, record: DatastoreRecord) -> dict[str, str]:
    """The datastore's secret settings, read from the workspace key vault."""
    if not record.secrets:
        return {}
    values = location.store().get_secrets(record.workspace_id, list(record.secrets.values()))
    missing = [setting for setting, name in record.secrets.items() if name not in values]
    if missing:
        settings = ", ".join(missing)
        names = ", ".join(repr(record.secrets[s]) for s in missing)
        register = _REGISTER.get(record.kind, "Datastore.register_*")
        raise DataAccessError(
            f"Datastore {record.name!r} keeps its {settings} in the workspace key vault as "
            f"secret {names}, which does not exist any more. Register the datastore again "
            f"with its {settings}: {register}(ws, {record.name!r}, ..., overwrite=True)."
        )
    return {setting: values[name] for setting, name in record.secrets.items()}


def _datastore_place(record: DatastoreRecord, uri: str, endpoint: str, container: str | None,
                     word: str, credentials: str) -> _Place:
    register = _REGISTER.get(record.kind, "Datastore.register_*")
    return _Place(label=f"datastore {record.name!r}", uri=uri, endpoint=endpoint,
                  container=container, container_word=word, credentials=credentials,
                  fix=f"Register it again with the right settings ({register}(..., "
                      "overwrite=True))")


def _pg_host(server: str, suffix: str) -> str:
    try:
        address = ipaddress.ip_address(server.strip("[]"))
    except ValueError:
        if "." in server or server == "localhost":
            return server
        return f"{server}.{suffix.lstrip('.')}"
    return f"[{address}]" if address.version == 6 else str(address)


# -- files over fsspec -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
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
                 place: _Place, *, secrets: Any = (), suffix: str = ""):
        self.protocol = protocol
        self.storage_options = dict(storage_options)
        self.root = root.rstrip("/") if root != "/" else ""
        self.uri = place.uri
        self._place = place
        self._secrets = tuple(s for s in secrets if s)
        self._suffix = suffix  # a URL's query (a SAS token), appended to every path
        self._is_local = protocol in ("file", "local")
        self._is_object_store = protocol in _OBJECT_STORES
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
        if not _has_wildcard(pattern):
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
            if _classify(exc) == "missing" or self._container_missing():
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
        detail = self._redact(_first_line(exc))
        kind = _classify(exc)
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

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"(sig|AccountKey|SharedAccessSignature)=[^;&\s]+", r"\1=***", text)


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
        if not _has_wildcard(pattern):
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
        if _has_wildcard(segment):
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


def _has_wildcard(text: str) -> bool:
    return any(c in text for c in _WILDCARDS)


# -- errors ------------------------------------------------------------------------------------

_AUTH_CODES = {
    "AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch",
    "InvalidAuthenticationInfo", "NoAuthenticationInformation", "InvalidAccessKeyId",
    "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "AllAccessDisabled",
}
_MISSING_CODES = {"ContainerNotFound", "NoSuchBucket", "FilesystemNotFound", "ShareNotFound"}
_UNREACHABLE_TYPES = {
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ServiceRequestError",
    "ServiceResponseError", "ClientConnectorError", "ServerTimeoutError", "ConnectionClosedError",
    "ClientConnectionError", "ServerDisconnectedError",
}
_AUTH_TYPES = {"LogonFailure", "AccessDenied", "ClientAuthenticationError"}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 10:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def _classify(exc: BaseException) -> str:
    """'auth', 'missing' (container/bucket), 'unreachable' or 'other'."""
    for e in _chain(exc):
        code, status = _code_and_status(e)
        names = {t.__name__ for t in type(e).__mro__}
        if code in _MISSING_CODES or "specified bucket does not exist" in str(e):
            return "missing"
        if (code in _AUTH_CODES or status in (401, 403) or isinstance(e, PermissionError)
                or names & _AUTH_TYPES):
            return "auth"
        if (names & _UNREACHABLE_TYPES or isinstance(e, (ConnectionError, TimeoutError,
                                                         socket.gaierror))
                or (isinstance(e, ValueError) and "Failed to connect" in str(e))):
            return "unreachable"
    return "other"


def _code_and_status(e: BaseException) -> tuple[str | None, int | None]:
    response = getattr(e, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        code = (response.get("Error") or {}).get("Code")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return code, status
    code = getattr(e, "error_code", None)  # azure-core's HttpResponseError
    status = getattr(e, "status_code", None) or getattr(e, "status", None)
    return (str(code) if code else None), (status if isinstance(status, int) else None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _mtime(info: Mapping[str, Any]) -> float | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) else None


def _redact_url(url: str) -> str:
    """``url`` without user info nor query (where credentials and SAS tokens live)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] if parts.scheme in ("http", "https") else parts.netloc
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _host_port(endpoint: str) -> tuple[str | None, int]:
    """The host and port behind a place's endpoint (None for a local disk)."""
    if endpoint == "AWS S3":
        return "s3.amazonaws.com", 443
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    host, sep, port = endpoint.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (None, 0)


def _endpoint_of(url: str, protocol: str) -> str:
    if protocol in ("file", "local"):
        return "this machine's disk"
    if protocol in ("http", "https"):
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if protocol in ("s3", "s3a"):
        return os.environ.get("FSSPEC_S3_ENDPOINT_URL") or "S3"
    return f"{protocol} storage"


def _container_word(protocol: str) -> str:
    return {"s3": "bucket", "s3a": "bucket", "gs": "bucket", "gcs": "bucket",
            "abfs": "container", "az": "container", "abfss": "container"}.get(protocol, "folder")
