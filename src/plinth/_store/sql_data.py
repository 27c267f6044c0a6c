"""The data part of ``SqlStore``: datastores, datasets and run lineage.

Tables ``datastores``, ``datasets`` and ``run_datasets`` (migration 0004). The ``check_*``
functions are shared with ``RestStore``, so both raise the same errors before any write.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import Row

from plinth._store.base import (
    BUILTIN_DATASTORES,
    DATASTORE_KINDS,
    DatasetRecord,
    DatastoreRecord,
    RunDatasetRecord,
)
from plinth._store.schema import datasets, datastores, experiments, run_datasets, runs, workspaces
from plinth.exceptions import AlreadyExistsError, NotFoundError, ValidationError

__all__ = [
    "DIRECTIONS",
    "MODES",
    "SqlData",
    "builtin_datastore_rows",
    "check_dataset_args",
    "check_dataset_name",
    "check_datastore_args",
    "check_datastore_name",
    "check_run_datasets",
]

DIRECTIONS = ("input", "output")
MODES = ("direct", "download", "mount", "upload")
_DATASTORE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")
# Spaces are allowed: the course names its datasets 'diabetes dataset'.
_DATASET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,253}[A-Za-z0-9_.-])?$")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


# -- argument checks --------------------------------------------------------------------------


def check_datastore_name(name: Any) -> str:
    if not isinstance(name, str) or not _DATASTORE_NAME.fullmatch(name):
        raise ValidationError(
            f"datastore_name={name!r} is not valid: use 1-255 letters, digits or '_', "
            "starting with a letter (e.g. 'training_data')."
        )
    return name


def _str_dict(value: Any, argument: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError(f"{argument} must be a dict of str -> str.")
    return dict(value)


def _json_dict(value: Any, argument: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError(f"{argument} must be a dict with str keys.")
    return json.loads(_dumps(dict(value)))  # a deep copy, as it will read back


def check_datastore_args(
    name: Any, kind: Any, config: Any, secrets: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The checked ``config`` and ``secrets`` of a datastore to register."""
    check_datastore_name(name)
    if kind not in DATASTORE_KINDS:
        raise ValidationError(
            f"kind={kind!r} is not a datastore kind; use one of {', '.join(DATASTORE_KINDS)}."
        )
    config = _json_dict(config, "config")
    if "builtin" in config:
        raise ValidationError(
            "config must not set 'builtin': only a workspace's own datastores are built in."
        )
    return config, _str_dict(secrets, "secrets")


def check_dataset_name(name: Any) -> str:
    if not isinstance(name, str) or not _DATASET_NAME.fullmatch(name):
        raise ValidationError(
            f"name={name!r} is not a valid dataset name: use 1-255 letters, digits, spaces, "
            "'_', '-' or '.', starting with a letter or digit and not ending with a space."
        )
    return name


def check_dataset_args(name: Any, kind: Any, definition: Any) -> None:
    if name is not None:
        check_dataset_name(name)
    if not isinstance(kind, str) or not 1 <= len(kind) <= 64:
        raise ValidationError(f"kind={kind!r} must be a dataset kind such as 'tabular' or 'file'.")
    if not isinstance(definition, Mapping):
        raise ValidationError("definition must be a dict that says how to read the data.")


def check_run_datasets(entries: Any) -> list[dict[str, str]]:
    """The lineage entries, checked and without repeats."""
    if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
        raise ValidationError("entries must be a list of dicts.")
    checked: dict[tuple[str, ...], dict[str, str]] = {}
    for i, entry in enumerate(entries):
        where = f"entries[{i}]"
        if not isinstance(entry, Mapping):
            raise ValidationError(f"{where} must be a dict with dataset_id, name, direction, mode.")
        for key in ("dataset_id", "name"):
            value = entry.get(key)
            if not isinstance(value, str) or not 1 <= len(value) <= 255:
                raise ValidationError(f"{where}['{key}'] must be a str of 1-255 characters.")
        if entry.get("direction") not in DIRECTIONS:
            raise ValidationError(f"{where}['direction'] must be one of {', '.join(DIRECTIONS)}.")
        if entry.get("mode") not in MODES:
            raise ValidationError(f"{where}['mode'] must be one of {', '.join(MODES)}.")
        row = {k: entry[k] for k in ("dataset_id", "name", "direction", "mode")}
        checked.setdefault((row["dataset_id"], row["name"], row["direction"]), row)
    return list(checked.values())


def builtin_datastore_rows(workspace_id: str, now: float) -> list[dict[str, Any]]:
    """Rows of a new workspace's BUILTIN_DATASTORES; the first is the default."""
    return [
        {
            "workspace_id": workspace_id,
            "name": name,
            "kind": kind,
            "config": _dumps({"builtin": True, "prefix": f"datastores/{name}"}),
            "secrets": "{}",
            "is_default": i == 0,
            "created_at": now,
        }
        for i, (name, kind) in enumerate(BUILTIN_DATASTORES.items())
    ]


class SqlData:
    """Mixin of ``SqlStore`` (which provides ``_tx`` and ``_retrying``)."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    # -- datastores -------------------------------------------------------------------------

    def create_datastore(
        self,
        workspace_id: str,
        name: str,
        *,
        kind: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> DatastoreRecord:
        config, secrets = check_datastore_args(name, kind, config, secrets)
        values = {"kind": kind, "config": _dumps(config), "secrets": _dumps(secrets)}

        def write(conn: Connection) -> None:
            _require_workspace(conn, workspace_id)
            row = conn.execute(
                select(datastores.c.config).where(*_datastore_key(workspace_id, name))
                .with_for_update()
            ).first()
            if row is None:
                conn.execute(insert(datastores).values(
                    workspace_id=workspace_id, name=name, is_default=False,
                    created_at=time.time(), **values,
                ))
            elif not overwrite:
                raise AlreadyExistsError(
                    f"A datastore named {name!r} already exists in this workspace; pass "
                    "overwrite=True to replace it, or choose another datastore_name."
                )
            elif json.loads(row.config).get("builtin"):
                raise ValidationError(
                    f"datastore_name={name!r} is a built-in datastore; it cannot be overwritten."
                )
            else:
                conn.execute(
                    update(datastores).where(*_datastore_key(workspace_id, name)).values(**values)
                )

        self._retrying(write)
        return self.get_datastore(workspace_id, name)

    def get_datastore(self, workspace_id: str, name: str) -> DatastoreRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(
                select(datastores).where(*_datastore_key(workspace_id, name))
            ).first()
        if row is None:
            raise NotFoundError(
                f"No datastore named {name!r} in this workspace; list_datastores shows those "
                "that exist."
            )
        return _datastore(row)

    def list_datastores(self, workspace_id: str) -> list[DatastoreRecord]:
        query = (
            select(datastores)
            .where(datastores.c.workspace_id == workspace_id)
            .order_by(datastores.c.name)
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_datastore(r) for r in rows]

    def get_default_datastore(self, workspace_id: str) -> DatastoreRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(
                select(datastores).where(
                    datastores.c.workspace_id == workspace_id, datastores.c.is_default.is_(True)
                )
            ).first()
        if row is None:
            raise NotFoundError(
                f"No workspace with id {workspace_id!r}, or it has no default datastore; "
                "set one with set_default_datastore."
            )
        return _datastore(row)

    def set_default_datastore(self, workspace_id: str, name: str) -> DatastoreRecord:
        def write(conn: Connection) -> None:
            found = conn.execute(
                select(datastores.c.name).where(*_datastore_key(workspace_id, name))
            ).first()
            if found is None:
                raise NotFoundError(f"No datastore named {name!r} in this workspace.")
            # One statement, so a concurrent call cannot leave two defaults.
            conn.execute(
                update(datastores)
                .where(datastores.c.workspace_id == workspace_id)
                .values(is_default=datastores.c.name == name)
            )

        self._retrying(write)
        return self.get_datastore(workspace_id, name)

    def delete_datastore(self, workspace_id: str, name: str) -> None:
        with self._tx() as conn:
            row = conn.execute(
                select(datastores.c.config, datastores.c.is_default)
                .where(*_datastore_key(workspace_id, name))
                .with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(f"No datastore named {name!r} in this workspace.")
            if json.loads(row.config).get("builtin"):
                raise ValidationError(
                    f"datastore_name={name!r} is a built-in datastore; it cannot be deleted."
                )
            if row.is_default:
                raise ValidationError(
                    f"datastore_name={name!r} is the workspace's default datastore; make another "
                    "the default with set_default_datastore first."
                )
            conn.execute(delete(datastores).where(*_datastore_key(workspace_id, name)))

    # -- datasets ---------------------------------------------------------------------------

    def create_dataset(
        self,
        workspace_id: str,
        name: str | None,
        *,
        kind: str,
        definition: Mapping[str, Any],
        fingerprint: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        create_new_version: bool = False,
    ) -> DatasetRecord:
        check_dataset_args(name, kind, definition)
        row = {
            "id": uuid.uuid4().hex,
            "workspace_id": workspace_id,
            "name": name,
            "kind": kind,
            "definition": _dumps(_json_dict(definition, "definition")),
            "fingerprint": _dumps(_json_dict(fingerprint, "fingerprint")),
            "description": description,
            "tags": _dumps(_str_dict(tags, "tags")),
            "registered": name is not None,
        }

        def write(conn: Connection) -> None:
            _require_workspace(conn, workspace_id)
            version = None
            if name is not None:
                of_name = (datasets.c.workspace_id == workspace_id, datasets.c.name == name)
                latest, registered = conn.execute(
                    select(
                        func.max(datasets.c.version),
                        func.count().filter(datasets.c.registered.is_(True)),
                    ).where(*of_name)
                ).one()
                if registered and not create_new_version:
                    raise AlreadyExistsError(
                        f"A dataset named {name!r} is already registered in this workspace; "
                        "pass create_new_version=True to register a new version of it."
                    )
                version = (latest or 0) + 1
            conn.execute(
                insert(datasets).values(**row, version=version, created_at=time.time())
            )

        self._retrying(write)
        return self.get_dataset_by_id(workspace_id, row["id"])

    def get_dataset(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> DatasetRecord:
        query = select(datasets).where(*_registered(workspace_id, name))
        if version is None:
            query = query.order_by(datasets.c.version.desc()).limit(1)
        else:
            query = query.where(datasets.c.version == int(version))
        with self._tx(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFoundError(
                f"No registered dataset named {name!r} with {which} in this workspace."
            )
        return _dataset(row)

    def get_dataset_by_id(self, workspace_id: str, dataset_id: str) -> DatasetRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(
                select(datasets).where(
                    datasets.c.workspace_id == workspace_id, datasets.c.id == dataset_id
                )
            ).first()
        if row is None:
            raise NotFoundError(f"No dataset with id {dataset_id!r} in this workspace.")
        return _dataset(row)

    def list_datasets(self, workspace_id: str, name: str | None = None) -> list[DatasetRecord]:
        query = select(datasets).where(
            datasets.c.workspace_id == workspace_id, datasets.c.registered.is_(True)
        )
        if name is not None:
            query = query.where(datasets.c.name == name)
        query = query.order_by(datasets.c.name, datasets.c.version.desc())
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_dataset(r) for r in rows]

    def update_dataset(
        self,
        workspace_id: str,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> DatasetRecord:
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if tags is not None:
            values["tags"] = _dumps(_str_dict(tags, "tags"))
        key = (*_registered(workspace_id, name), datasets.c.version == int(version))
        with self._tx() as conn:
            found = conn.execute(select(datasets.c.id).where(*key)).first()
            if found is None:
                raise NotFoundError(
                    f"No registered dataset {name}:{version} in this workspace."
                )
            if values:
                conn.execute(update(datasets).where(*key).values(**values))
        return self.get_dataset(workspace_id, name, version)

    def unregister_dataset(self, workspace_id: str, name: str) -> None:
        with self._tx() as conn:
            done = conn.execute(
                update(datasets).where(*_registered(workspace_id, name)).values(registered=False)
            ).rowcount
        if not done:
            raise NotFoundError(f"No registered dataset named {name!r} in this workspace.")

    # -- lineage ----------------------------------------------------------------------------

    def add_run_datasets(self, run_id: str, entries: Sequence[Mapping[str, Any]]) -> None:
        rows = check_run_datasets(entries)

        def write(conn: Connection) -> None:
            workspace_id = conn.execute(
                select(experiments.c.workspace_id)
                .join(runs, runs.c.experiment_id == experiments.c.id)
                .where(runs.c.id == run_id)
            ).scalar()
            if workspace_id is None:
                raise NotFoundError(f"No run with id {run_id!r}; no datasets were recorded.")
            if not rows:
                return
            ids = sorted({r["dataset_id"] for r in rows})
            found = dict(
                conn.execute(
                    select(datasets.c.id, datasets.c.workspace_id).where(datasets.c.id.in_(ids))
                ).all()
            )
            for dataset_id in ids:
                if dataset_id not in found:
                    raise NotFoundError(
                        f"No dataset with id {dataset_id!r}; save it with create_dataset first."
                    )
                if found[dataset_id] != workspace_id:
                    raise ValidationError(
                        f"Dataset {dataset_id!r} is not of the workspace of run {run_id!r}; "
                        "a run can only use datasets of its own workspace."
                    )
            existing = {
                tuple(r)
                for r in conn.execute(
                    select(run_datasets.c.dataset_id, run_datasets.c.name,
                           run_datasets.c.direction).where(run_datasets.c.run_id == run_id)
                )
            }
            now = time.time()
            new = [
                {**r, "run_id": run_id, "created_at": now}
                for r in rows
                if (r["dataset_id"], r["name"], r["direction"]) not in existing
            ]
            if new:
                conn.execute(insert(run_datasets), new)

        self._retrying(write)

    def list_run_datasets(
        self, *, run_id: str | None = None, dataset_id: str | None = None
    ) -> list[RunDatasetRecord]:
        if run_id is None and dataset_id is None:
            raise ValidationError("Give run_id, dataset_id or both to list lineage.")
        query = select(run_datasets)
        if run_id is not None:
            query = query.where(run_datasets.c.run_id == run_id)
        if dataset_id is not None:
            query = query.where(run_datasets.c.dataset_id == dataset_id)
        query = query.order_by(
            run_datasets.c.created_at, run_datasets.c.run_id, run_datasets.c.direction,
            run_datasets.c.name,
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
            if not rows:
                _require_lineage_ends(conn, run_id, dataset_id)
        return [
            RunDatasetRecord(r.run_id, r.dataset_id, r.name, r.direction, r.mode, r.created_at)
            for r in rows
        ]

    def _delete_data(self, conn: Connection, workspace_id: str, run_ids: Any) -> None:
        """In ``delete_workspace``'s transaction: the workspace's data rows."""
        dataset_ids = select(datasets.c.id).where(datasets.c.workspace_id == workspace_id)
        conn.execute(delete(run_datasets).where(run_datasets.c.run_id.in_(run_ids)))
        conn.execute(delete(run_datasets).where(run_datasets.c.dataset_id.in_(dataset_ids)))
        conn.execute(delete(datasets).where(datasets.c.workspace_id == workspace_id))
        conn.execute(delete(datastores).where(datastores.c.workspace_id == workspace_id))


def _require_workspace(conn: Connection, workspace_id: str) -> None:
    if conn.execute(select(workspaces.c.id).where(workspaces.c.id == workspace_id)).first() is None:
        raise NotFoundError(f"No workspace with id {workspace_id!r}.")


def _require_lineage_ends(conn: Connection, run_id: str | None, dataset_id: str | None) -> None:
    """NotFoundError for an unknown run or dataset (an empty listing for a known one)."""
    if run_id is not None and conn.execute(
        select(runs.c.id).where(runs.c.id == run_id)
    ).first() is None:
        raise NotFoundError(f"No run with id {run_id!r}.")
    if dataset_id is not None and conn.execute(
        select(datasets.c.id).where(datasets.c.id == dataset_id)
    ).first() is None:
        raise NotFoundError(f"No dataset with id {dataset_id!r}.")


def _datastore_key(workspace_id: str, name: str) -> tuple:
    return (datastores.c.workspace_id == workspace_id, datastores.c.name == name)


def _registered(workspace_id: str, name: str) -> tuple:
    return (
        datasets.c.workspace_id == workspace_id,
        datasets.c.name == name,
        datasets.c.registered.is_(True),
    )


def _datastore(row: Row) -> DatastoreRecord:
    return DatastoreRecord(
        workspace_id=row.workspace_id,
        name=row.name,
        kind=row.kind,
        created_at=row.created_at,
        config=json.loads(row.config),
        secrets=json.loads(row.secrets),
        is_default=bool(row.is_default),
    )


def _dataset(row: Row) -> DatasetRecord:
    return DatasetRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=row.kind,
        created_at=row.created_at,
        definition=json.loads(row.definition),
        name=row.name,
        version=row.version,
        description=row.description,
        tags=json.loads(row.tags),
        fingerprint=json.loads(row.fingerprint),
        registered=bool(row.registered),
    )
