"""From a datastore record (or a URL) to its files: a ``DatastoreFiles`` over fsspec.

Each kind maps to a plain fsspec filesystem: local folders, s3fs, adlfs (Azure Blob and
ADLS Gen2), and fsspec's ``smb`` for Azure Files (which speaks SMB 3). Credentials come from
the workspace key vault when the files are opened and never appear in ``uri`` nor in error
messages. Filesystems connect on first use, so building one never touches the network. The
``DatastoreFiles`` classes live in ``fsspec_files``, and turning storage libraries' errors
into ``DataAccessError`` in ``storage_errors``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import fsspec

from plinth._artifacts.store import check_artifact_name
from plinth._data.files import DatastoreFiles
from plinth._data.fsspec_files import (
    OBJECT_STORES,
    ArtifactFiles,
    FsspecFiles,
    Place,
    has_wildcard,
)
from plinth._data.storage_errors import redact_url
from plinth._store.base import DatastoreRecord
from plinth.exceptions import DataAccessError, UserErrorException

__all__ = ["open_datastore", "open_url", "sql_url"]

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
    cut = next((i for i, s in enumerate(segments) if has_wildcard(s)), len(segments) - 1)
    folder = "/".join(segments[:cut])
    root = f"{anchor.rstrip('/')}/{folder}" if folder else anchor
    return _url_files(root, protocol, query), "/".join(segments[cut:])


def _url_files(root: str, protocol: str, query: str) -> FsspecFiles:
    cls = fsspec.get_filesystem_class(protocol)
    options: dict[str, Any] = cls._get_kwargs_from_urls(root)
    if protocol in OBJECT_STORES:
        options["use_listings_cache"] = False
    path = cls._strip_protocol(root)
    shown = redact_url(root)
    container = path.split("/")[0] if protocol in OBJECT_STORES else None
    place = Place(label=repr(shown), uri=shown, endpoint=_endpoint_of(root, protocol),
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
    if protocol in OBJECT_STORES:
        options["use_listings_cache"] = False
    path = cls._strip_protocol(root)
    if protocol in ("file", "local"):
        os.makedirs(path, exist_ok=True)
    place = Place(label=label, uri=redact_url(root), endpoint=_endpoint_of(root, protocol),
                  container=path.split("/")[0] if protocol in OBJECT_STORES else None,
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
                     word: str, credentials: str) -> Place:
    register = _REGISTER.get(record.kind, "Datastore.register_*")
    return Place(label=f"datastore {record.name!r}", uri=uri, endpoint=endpoint,
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
