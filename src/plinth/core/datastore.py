"""``Datastore``: a named, credentialed storage location of a workspace (azureml's shape).

Registration keeps credentials in the workspace key vault, never in the datastore's record;
reads and writes go through fsspec (adlfs for Azure, s3fs for S3, local folders).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plinth._store import DatastoreRecord
from plinth.exceptions import DataAccessError, NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace
    from plinth.data.data_reference import DataReference

__all__ = [
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "AzureFileDatastore",
    "AzurePostgreSqlDatastore",
    "Datastore",
    "LocalDatastore",
    "S3Datastore",
]


class Datastore:
    """A workspace datastore. ``Datastore(ws, name)`` (or ``Datastore.get``) gets one;
    the ``register_*`` functions add one."""

    def __new__(cls, workspace: "Workspace" = None, name: str | None = None):
        if workspace is None:  # unpickling, or a subclass made from a record
            return super().__new__(cls)
        return Datastore.get(workspace, name)

    @classmethod
    def _from_record(cls, workspace: "Workspace", record: DatastoreRecord) -> "Datastore":
        klass = _CLASSES.get(record.kind, Datastore)
        store = object.__new__(klass)
        store.workspace = workspace
        store._record = record
        return store

    # -- lookup --------------------------------------------------------------------------

    @staticmethod
    def get(workspace: "Workspace", datastore_name: str) -> "Datastore":
        """The datastore called ``datastore_name``."""
        try:
            record = workspace._store.get_datastore(workspace._id, datastore_name)
        except NotFoundError:
            names = ", ".join(workspace.datastores) or "none"
            raise NotFoundError(
                f"No datastore named {datastore_name!r} in workspace {workspace.name!r} "
                f"(it has: {names}). Register it with Datastore.register_*()."
            ) from None
        return Datastore._from_record(workspace, record)

    @staticmethod
    def get_default(workspace: "Workspace") -> "Datastore":
        return workspace.get_default_datastore()

    # -- registration ----------------------------------------------------------------------

    @staticmethod
    def register_azure_blob_container(
        workspace: "Workspace", datastore_name: str, container_name: str, account_name: str,
        sas_token: str | None = None, account_key: str | None = None,
        protocol: str | None = None, endpoint: str | None = None, overwrite: bool = False,
        create_if_not_exists: bool = False, skip_validation: bool = False,
        blob_cache_timeout: int | None = None, grant_workspace_access: bool = False,
        subscription_id: str | None = None, resource_group: str | None = None,
    ) -> "AzureBlobDatastore":
        """An Azure Blob container. ``endpoint`` is the storage suffix (``core.windows.net``)
        or a whole account URL (``http://127.0.0.1:10000/devstoreaccount1`` for Azurite)."""
        config = {"container_name": container_name, "account_name": account_name,
                  "protocol": protocol or "https", "endpoint": endpoint or "core.windows.net"}
        secrets = {"account_key": account_key, "sas_token": sas_token}
        return _register(workspace, datastore_name, "AzureBlob", config, secrets,
                         overwrite=overwrite, validate=not skip_validation,
                         create=create_if_not_exists)

    @staticmethod
    def register_azure_file_share(
        workspace: "Workspace", datastore_name: str, file_share_name: str, account_name: str,
        sas_token: str | None = None, account_key: str | None = None,
        protocol: str | None = None, endpoint: str | None = None, overwrite: bool = False,
        create_if_not_exists: bool = False, skip_validation: bool = False,
    ) -> "AzureFileDatastore":
        """An Azure Files share, reached over SMB 3 with the account key."""
        if sas_token and not account_key:
            raise UserErrorException(
                "An Azure file share is reached over SMB, which takes account_key, not "
                "sas_token; pass account_key=."
            )
        config = {"file_share_name": file_share_name, "account_name": account_name,
                  "protocol": protocol or "https", "endpoint": endpoint or "core.windows.net"}
        return _register(workspace, datastore_name, "AzureFile", config,
                         {"account_key": account_key}, overwrite=overwrite,
                         validate=not skip_validation, create=create_if_not_exists)

    @staticmethod
    def register_azure_data_lake_gen2(
        workspace: "Workspace", datastore_name: str, filesystem: str, account_name: str,
        tenant_id: str | None = None, client_id: str | None = None,
        client_secret: str | None = None, resource_url: str | None = None,
        authority_url: str | None = None, protocol: str | None = None,
        endpoint: str | None = None, overwrite: bool = False,
        subscription_id: str | None = None, resource_group: str | None = None,
        grant_workspace_access: bool = False, account_key: str | None = None,
        skip_validation: bool = False,
    ) -> "AzureDataLakeGen2Datastore":
        """An ADLS Gen2 filesystem, with a service principal (tenant, client id and secret)
        or an account key."""
        if client_secret and not (tenant_id and client_id):
            raise UserErrorException(
                "client_secret needs tenant_id and client_id (the service principal)."
            )
        config = {"filesystem": filesystem, "account_name": account_name,
                  "tenant_id": tenant_id, "client_id": client_id,
                  "authority_url": authority_url, "resource_url": resource_url,
                  "protocol": protocol or "https", "endpoint": endpoint or "core.windows.net"}
        secrets = {"client_secret": client_secret, "account_key": account_key}
        return _register(workspace, datastore_name, "AzureDataLakeGen2", config, secrets,
                         overwrite=overwrite, validate=not skip_validation)

    @staticmethod
    def register_s3(
        workspace: "Workspace", datastore_name: str, bucket: str,
        endpoint_url: str | None = None, access_key_id: str | None = None,
        secret_access_key: str | None = None, prefix: str | None = None,
        region: str | None = None, overwrite: bool = False, create_if_not_exists: bool = False,
        skip_validation: bool = False,
    ) -> "S3Datastore":
        """An S3 bucket (AWS, or any S3 API at ``endpoint_url``). Without keys the default
        AWS credential chain is used."""
        if bool(access_key_id) != bool(secret_access_key):
            raise UserErrorException(
                "Pass both access_key_id and secret_access_key, or neither (to use the "
                "default AWS credentials)."
            )
        config = {"bucket": bucket, "prefix": (prefix or "").strip("/"),
                  "endpoint_url": endpoint_url, "region": region}
        secrets = {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
        return _register(workspace, datastore_name, "S3", config, secrets,
                         overwrite=overwrite, validate=not skip_validation,
                         create=create_if_not_exists)

    @staticmethod
    def register_local(workspace: "Workspace", datastore_name: str, path: str | os.PathLike,
                       overwrite: bool = False, create_if_not_exists: bool = False,
                       ) -> "LocalDatastore":
        """A folder on this machine (or a network share mounted here)."""
        folder = Path(path).expanduser().resolve()
        if create_if_not_exists:
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise UserErrorException(
                f"path={str(path)!r} is not a folder; create it or pass "
                "create_if_not_exists=True."
            )
        return _register(workspace, datastore_name, "Local", {"path": str(folder)}, {},
                         overwrite=overwrite, validate=False)

    @staticmethod
    def register_azure_postgre_sql(
        workspace: "Workspace", datastore_name: str, server_name: str, database_name: str,
        user_id: str, user_password: str, port_number: int | None = None,
        endpoint: str | None = None, overwrite: bool = False, enforce_ssl: bool = True,
        **kwargs: Any,
    ) -> "AzurePostgreSqlDatastore":
        """A PostgreSQL database, read with ``Dataset.Tabular.from_sql_query``.
        ``server_name`` is Azure's short name or any host name (``localhost``)."""
        config = {"server_name": server_name, "database_name": database_name,
                  "user_id": user_id, "port_number": int(port_number or 5432),
                  "endpoint": endpoint or "postgres.database.azure.com",
                  "enforce_ssl": bool(enforce_ssl)}
        return _register(workspace, datastore_name, "AzurePostgreSql", config,
                         {"user_password": user_password}, overwrite=overwrite, validate=False)

    register_postgre_sql = register_azure_postgre_sql

    # -- properties ------------------------------------------------------------------------

    name = property(lambda self: self._record.name)
    datastore_type = property(lambda self: self._record.kind)
    is_default = property(lambda self: self._record.is_default)

    def _config(self, key: str) -> Any:
        return self._record.config.get(key)

    @property
    def _files(self):
        from plinth._data.filesystems import open_datastore

        return open_datastore(self.workspace._location, self._record)

    def set_as_default(self) -> None:
        self.workspace.set_default_datastore(self.name)

    def unregister(self) -> None:
        """Remove the registration and its key-vault secrets; the data stays."""
        ws = self.workspace
        ws._store.delete_datastore(ws._id, self.name)
        names = list(self._record.secrets.values())
        if names:
            ws._store.delete_secrets(ws._id, names)

    # -- files -----------------------------------------------------------------------------

    def upload(self, src_dir: str | os.PathLike, target_path: str | None = None,
               overwrite: bool = False, show_progress: bool = True) -> "DataReference":
        """Upload every file under ``src_dir`` to ``target_path``; existing files are
        skipped unless ``overwrite``. Returns a reference to ``target_path``."""
        self._upload_folder(src_dir, target_path, overwrite, show_progress)
        return self.path(_clean(target_path) or None)

    def _upload_folder(self, src_dir: str | os.PathLike, target_path: str | None,
                       overwrite: bool, show_progress: bool) -> Any:
        """``upload``'s work; returns the transfer's result (what was copied, skipped)."""
        folder = Path(src_dir).expanduser()
        if not folder.is_dir():
            raise UserErrorException(f"src_dir={str(src_dir)!r} is not a folder.")
        target = _clean(target_path)
        pairs = [(p, _join(target, p.relative_to(folder).as_posix()))
                 for p in sorted(folder.rglob("*")) if p.is_file()]
        return self._upload(pairs, overwrite, show_progress)

    def upload_files(self, files: Iterable[str | os.PathLike],
                     relative_root: str | os.PathLike | None = None,
                     target_path: str | None = None, overwrite: bool = False,
                     show_progress: bool = True) -> "DataReference":
        """Upload the given files to ``target_path``, each at its path relative to
        ``relative_root`` (default: only its file name)."""
        root = Path(relative_root).expanduser().resolve() if relative_root else None
        target = _clean(target_path)
        pairs = []
        for item in files:
            path = Path(item).expanduser().resolve()
            if not path.is_file():
                raise UserErrorException(f"files: {str(item)!r} is not a file.")
            if root is None:
                rel = path.name
            elif path.is_relative_to(root):
                rel = path.relative_to(root).as_posix()
            else:
                raise UserErrorException(
                    f"files: {str(item)!r} is not under relative_root={str(relative_root)!r}."
                )
            pairs.append((path, _join(target, rel)))
        self._upload(pairs, overwrite, show_progress)
        return self.path(target or None)

    def _upload(self, pairs: list, overwrite: bool, show_progress: bool) -> Any:
        from plinth._data.transfer import upload

        return upload(self._files, pairs, overwrite=overwrite, show_progress=show_progress)

    def download(self, target_path: str | os.PathLike, prefix: str | None = None,
                 overwrite: bool = False, show_progress: bool = True) -> int:
        """Download the files whose path starts with ``prefix`` (all without one) into
        ``target_path``, keeping their paths. Returns how many were downloaded."""
        from plinth._data.transfer import download

        files = self._files
        clean = _clean(prefix)
        names = [n for n in files.list(clean.rpartition("/")[0] if clean else "")
                 if n.startswith(clean)]
        result = download(files, names, Path(target_path), overwrite=overwrite,
                          show_progress=show_progress)
        return len(result.copied)

    # -- references ------------------------------------------------------------------------

    def path(self, path: str | None = None, data_reference_name: str | None = None
             ) -> "DataReference":
        """A reference to ``path`` in this datastore, to pass to a run."""
        from plinth.data.data_reference import DataReference

        return DataReference(self, data_reference_name=data_reference_name,
                             path_on_datastore=path)

    def as_download(self, path_on_compute: str | None = None) -> "DataReference":
        return self.path().as_download(path_on_compute)

    def as_upload(self, path_on_compute: str | None = None) -> "DataReference":
        return self.path().as_upload(path_on_compute)

    def as_mount(self) -> "DataReference":
        return self.path().as_mount()

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._record.config.items() if v not in (None, "")}
        return f"{type(self).__name__}(name={self.name!r}, {shown})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Datastore) and other.workspace == self.workspace
                and other.name == self.name)

    def __hash__(self) -> int:
        return hash(self.name)


class AzureBlobDatastore(Datastore):
    container_name = property(lambda self: self._config("container_name"))
    account_name = property(lambda self: self._config("account_name"))
    endpoint = property(lambda self: self._config("endpoint"))
    protocol = property(lambda self: self._config("protocol"))


class AzureFileDatastore(AzureBlobDatastore):
    container_name = property(lambda self: self._config("file_share_name"))


class AzureDataLakeGen2Datastore(Datastore):
    container_name = property(lambda self: self._config("filesystem"))
    account_name = property(lambda self: self._config("account_name"))
    tenant_id = property(lambda self: self._config("tenant_id"))
    client_id = property(lambda self: self._config("client_id"))


class S3Datastore(Datastore):
    bucket = property(lambda self: self._config("bucket"))
    endpoint_url = property(lambda self: self._config("endpoint_url"))


class LocalDatastore(Datastore):
    path_on_disk = property(lambda self: self._config("path"))


class AzurePostgreSqlDatastore(Datastore):
    server_name = property(lambda self: self._config("server_name"))
    database_name = property(lambda self: self._config("database_name"))
    user_id = property(lambda self: self._config("user_id"))


_CLASSES = {
    "AzureBlob": AzureBlobDatastore,
    "AzureFile": AzureFileDatastore,
    "AzureDataLakeGen2": AzureDataLakeGen2Datastore,
    "S3": S3Datastore,
    "Local": LocalDatastore,
    "AzurePostgreSql": AzurePostgreSqlDatastore,
}


def secret_name(datastore_name: str, setting: str) -> str:
    """The key-vault name of one credential (Key Vault names allow letters, digits, '-')."""
    name = f"datastore-{datastore_name}-{setting}".replace("_", "-")
    if len(name) > 127:
        short = hashlib.sha256(datastore_name.encode()).hexdigest()[:16]
        name = f"datastore-{short}-{setting}".replace("_", "-")
    return name


def _register(workspace: "Workspace", name: str, kind: str, config: Mapping[str, Any],
              credentials: Mapping[str, str | None], *, overwrite: bool, validate: bool,
              create: bool = False) -> Any:
    """Store the credentials in the key vault, check the storage answers, then record the
    datastore. A failure leaves no registration and no new secrets behind."""
    store, ws_id = workspace._store, workspace._id
    if not overwrite:
        try:
            store.get_datastore(ws_id, name)
        except NotFoundError:
            pass
        else:
            raise UserErrorException(
                f"A datastore named {name!r} is already registered; pass overwrite=True to "
                "replace it, or choose another datastore_name."
            )
    values = {k: str(v) for k, v in credentials.items() if v}
    secrets = {k: secret_name(name, k) for k in values}
    config = {k: v for k, v in config.items() if v is not None}
    previous = store.get_secrets(ws_id, list(secrets.values())) if secrets else {}
    if values:
        store.set_secrets(ws_id, {secrets[k]: v for k, v in values.items()})
    record = DatastoreRecord(ws_id, name, kind, 0.0, config, secrets)
    try:
        if validate or create:
            _check_access(workspace, record, create)
        record = store.create_datastore(ws_id, name, kind=kind, config=config,
                                        secrets=secrets, overwrite=overwrite)
    except BaseException:
        _restore_secrets(store, ws_id, secrets.values(), previous)
        raise
    return Datastore._from_record(workspace, record)


def _check_access(workspace: "Workspace", record: DatastoreRecord, create: bool) -> None:
    """Refused credentials or a missing container fail the registration. Storage this
    machine cannot reach is registered with a warning: runs elsewhere may reach it."""
    from plinth._data.filesystems import open_datastore

    files = open_datastore(workspace._location, record)
    try:
        if create and files.fs is not None and not files.fs.exists(files.root):
            try:
                files.fs.mkdir(files.root)
            except Exception as exc:  # noqa: BLE001 - any storage error explains itself
                raise DataAccessError(f"Could not create {files.uri}: {exc}") from exc
        files.list()
    except DataAccessError as exc:
        if exc.reason != "unreachable" or create:
            raise
        message = (f"Datastore {record.name!r} is registered without checking its storage, "
                   f"which this machine cannot reach: {exc}")
        warnings.warn(message, UserWarning, stacklevel=4)


def _restore_secrets(store: Any, ws_id: str, names: Iterable[str],
                     previous: Mapping[str, str]) -> None:
    new = [n for n in names if n not in previous]
    if new:
        store.delete_secrets(ws_id, new)
    if previous:
        store.set_secrets(ws_id, dict(previous))


def _clean(path: str | None) -> str:
    return (path or "").replace("\\", "/").strip("/")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name
