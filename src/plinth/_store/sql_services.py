"""The web services part of ``SqlStore``: a workspace's deployed services.

Table ``services`` (migration 0008); its rows go with their workspace (foreign key
``ON DELETE CASCADE``). The ``check_*`` and ``could_be_*`` functions are shared with
``RestStore``, so both raise the same errors before any write.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from plinth._store.base import SERVICE_KINDS, SERVICE_STATES, ServiceRecord
from plinth._store.checks import json_dict, optional_text
from plinth._store.schema import services, workspaces
from plinth.exceptions import AlreadyExistsError, NotFoundError, ValidationError

__all__ = [
    "SqlServices",
    "check_service_args",
    "check_service_name",
    "check_service_update",
    "could_be_service_name",
]

# azureml's rule: 3-32 lowercase letters, digits or '-', starting with a letter and not
# ending with '-'.
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")
# A model id: a model name (the SDK's rule) and a version number.
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}:[1-9][0-9]{0,9}")
_TRANSITIONING = "Transitioning"
_MAX_PID = 2**31 - 1


# -- argument checks --------------------------------------------------------------------------


def could_be_service_name(name: Any) -> bool:
    """Whether a service could have this name. Others are not looked up: PostgreSQL refuses
    some strings (with NUL) in a query, and in a URL '..' would name the workspace itself."""
    return isinstance(name, str) and _SERVICE_NAME.fullmatch(name) is not None


def check_service_name(name: Any) -> str:
    if not could_be_service_name(name):
        raise ValidationError(
            f"name={name!r} is not a valid service name: use 3-32 lowercase letters, digits "
            "or '-', starting with a letter and not ending with '-' (e.g. 'my-service')."
        )
    return name


def _kind(kind: Any) -> str:
    if not isinstance(kind, str) or kind not in SERVICE_KINDS:
        raise ValidationError(
            f"kind={kind!r} is not a service kind; use one of {', '.join(SERVICE_KINDS)}."
        )
    return kind


def _state(state: Any) -> str:
    if not isinstance(state, str) or state not in SERVICE_STATES:
        raise ValidationError(
            f"state={state!r} is not a service state; use one of {', '.join(SERVICE_STATES)}."
        )
    return state


def _models(models: Any) -> list[str]:
    if isinstance(models, (str, bytes, Mapping)) or not isinstance(models, Sequence):
        raise ValidationError(
            f"models={models!r} must be a list of model ids, \"name:version\" (e.g. "
            "['sklearn-model:1'])."
        )
    for i, model in enumerate(models):
        if not isinstance(model, str) or not _MODEL_ID.fullmatch(model):
            raise ValidationError(
                f"models[{i}]={model!r} is not a model id: use \"name:version\", a registered "
                "model's name and its version number (e.g. 'sklearn-model:1')."
            )
    return list(models)


def _str_dict(value: Any, argument: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError(f"{argument} must be a dict of str -> str.")
    return dict(value)


def _pid(pid: Any) -> int | None:
    if pid is None:
        return None
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= _MAX_PID:
        raise ValidationError(f"pid={pid!r} must be a process id (a positive int), or None.")
    return pid


def _bool(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{argument}={value!r} must be True or False.")
    return value


def check_service_args(
    name: Any,
    *,
    kind: Any,
    config: Any,
    models: Any,
    inference: Any,
    description: Any = None,
    tags: Any = None,
    properties: Any = None,
    overwrite: Any = False,
) -> dict[str, Any]:
    """The service's settings as they will be stored and read back (dicts deep-copied):
    ``name``, ``kind``, ``config``, ``models``, ``inference``, ``description``, ``tags`` and
    ``properties``."""
    check_service_name(name)
    _bool(overwrite, "overwrite")
    return {
        "name": name,
        "kind": _kind(kind),
        "config": json_dict(config, "config"),
        "models": _models(models),
        "inference": json_dict(inference, "inference"),
        "description": optional_text(description, "description"),
        "tags": _str_dict({} if tags is None else tags, "tags"),
        "properties": _str_dict({} if properties is None else properties, "properties"),
    }


def check_service_update(
    *,
    state: Any = None,
    config: Any = None,
    models: Any = None,
    inference: Any = None,
    scoring_uri: Any = None,
    swagger_uri: Any = None,
    host: Any = None,
    pid: Any = None,
    error: Any = None,
    clear_error: Any = False,
    description: Any = None,
    tags: Any = None,
    properties: Any = None,
) -> dict[str, Any]:
    """The fields to change, checked, as they will read back (None ones left out; ``error``
    is there as None when ``clear_error``)."""
    if _bool(clear_error, "clear_error") and error is not None:
        raise ValidationError(
            "Give error= (to record an error) or clear_error=True (to remove it), not both."
        )
    checks = {
        "state": _state,
        "config": lambda v: json_dict(v, "config"),
        "models": _models,
        "inference": lambda v: json_dict(v, "inference"),
        "scoring_uri": lambda v: optional_text(v, "scoring_uri"),
        "swagger_uri": lambda v: optional_text(v, "swagger_uri"),
        "host": lambda v: optional_text(v, "host"),
        "pid": _pid,
        "error": lambda v: json_dict(v, "error"),
        "description": lambda v: optional_text(v, "description"),
        "tags": lambda v: _str_dict(v, "tags"),
        "properties": lambda v: _str_dict(v, "properties"),
    }
    given = {
        "state": state, "config": config, "models": models, "inference": inference,
        "scoring_uri": scoring_uri, "swagger_uri": swagger_uri, "host": host, "pid": pid,
        "error": error, "description": description, "tags": tags, "properties": properties,
    }
    changes = {k: checks[k](v) for k, v in given.items() if v is not None}
    if clear_error:
        changes["error"] = None
    return changes


_JSON_COLUMNS = ("config", "models", "inference", "error", "tags", "properties")


def _columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Record fields as column values: the JSON ones as text (an error of None as NULL)."""
    return {
        k: json.dumps(v, separators=(",", ":"))
        if k in _JSON_COLUMNS and v is not None else v
        for k, v in fields.items()
    }


# -- the mixin --------------------------------------------------------------------------------


class SqlServices:
    """Mixin of ``SqlStore`` (which provides ``_tx`` and ``_retrying``)."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    def create_service(
        self,
        workspace_id: str,
        name: str,
        *,
        kind: str,
        config: Mapping[str, Any],
        models: Sequence[str],
        inference: Mapping[str, Any],
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> ServiceRecord:
        settings = check_service_args(
            name, kind=kind, config=config, models=models, inference=inference,
            description=description, tags=tags, properties=properties, overwrite=overwrite,
        )
        # Everything else a service has starts empty, an overwritten one's too.
        fresh = {"state": _TRANSITIONING, "scoring_uri": None, "swagger_uri": None,
                 "host": None, "pid": None, "error": None}
        columns = _columns({**settings, **fresh})

        def write(conn: Connection) -> ServiceRecord:
            ws_name = _workspace_name(conn, workspace_id)
            if ws_name is None:
                raise NotFoundError(f"No workspace with id {workspace_id!r}.")
            now = time.time()
            # A concurrent writer of the same name makes the insert collide on the primary
            # key; _retrying then runs this again, and the select below finds its row.
            row = conn.execute(
                select(services.c.created_at).where(*_key(workspace_id, name)).with_for_update()
            ).first()
            if row is None:
                values = {**columns, "workspace_id": workspace_id, "created_at": now,
                          "updated_at": now}
                conn.execute(insert(services).values(**values))
            elif not overwrite:
                raise AlreadyExistsError(
                    f"A service named {name!r} already exists in workspace {ws_name!r}; "
                    "choose another name, delete that one first, or pass overwrite=True to "
                    "replace it."
                )
            else:
                values = {**columns, "workspace_id": workspace_id,
                          "created_at": row.created_at, "updated_at": now}
                conn.execute(update(services).where(*_key(workspace_id, name)).values(**values))
            return _service(values)

        return self._retrying(write)

    def get_service(self, workspace_id: str, name: str) -> ServiceRecord:
        with self._tx(write=False) as conn:
            return _service(self._service_row(conn, workspace_id, name))

    def list_services(self, workspace_id: str | None = None) -> list[ServiceRecord]:
        query = select(services)
        if workspace_id is not None:
            query = query.where(services.c.workspace_id == workspace_id)
        query = query.order_by(services.c.name, services.c.workspace_id)
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_service(r._mapping) for r in rows]

    def update_service(
        self,
        workspace_id: str,
        name: str,
        *,
        state: str | None = None,
        config: Mapping[str, Any] | None = None,
        models: Sequence[str] | None = None,
        inference: Mapping[str, Any] | None = None,
        scoring_uri: str | None = None,
        swagger_uri: str | None = None,
        host: str | None = None,
        pid: int | None = None,
        error: Mapping[str, Any] | None = None,
        clear_error: bool = False,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> ServiceRecord:
        changes = _columns(check_service_update(
            state=state, config=config, models=models, inference=inference,
            scoring_uri=scoring_uri, swagger_uri=swagger_uri, host=host, pid=pid, error=error,
            clear_error=clear_error, description=description, tags=tags, properties=properties,
        ))

        def write(conn: Connection) -> ServiceRecord:
            row = self._service_row(conn, workspace_id, name, lock=True)
            # updated_at never goes back, even when the clock does.
            values = {**changes, "updated_at": max(time.time(), row["updated_at"])}
            conn.execute(update(services).where(*_key(workspace_id, name)).values(**values))
            return _service({**row, **values})

        return self._retrying(write)

    def delete_service(self, workspace_id: str, name: str) -> None:
        with self._tx() as conn:
            deleted = 0
            if could_be_service_name(name):
                deleted = conn.execute(delete(services).where(*_key(workspace_id, name))).rowcount
            if deleted == 0:
                raise _not_found(conn, workspace_id, name)

    def _service_row(self, conn: Connection, workspace_id: str, name: Any, *,
                     lock: bool = False) -> Mapping[str, Any]:
        row = None
        if could_be_service_name(name):
            query = select(services).where(*_key(workspace_id, name))
            row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise _not_found(conn, workspace_id, name)
        return row._mapping


# -- helpers ----------------------------------------------------------------------------------


def _key(workspace_id: str, name: Any) -> tuple:
    return (services.c.workspace_id == workspace_id, services.c.name == name)


def _workspace_name(conn: Connection, workspace_id: str) -> str | None:
    return conn.execute(
        select(workspaces.c.name).where(workspaces.c.id == workspace_id)
    ).scalar_one_or_none()


def _not_found(conn: Connection, workspace_id: str, name: Any) -> NotFoundError:
    ws_name = _workspace_name(conn, workspace_id)
    if ws_name is None:
        return NotFoundError(
            f"No service named {name!r}: there is no workspace with id {workspace_id!r}."
        )
    return NotFoundError(
        f"No service named {name!r} in workspace {ws_name!r}; list_services shows those that "
        "exist."
    )


def _service(row: Mapping[str, Any]) -> ServiceRecord:
    """The record of a row (or of the column values just written)."""
    return ServiceRecord(
        workspace_id=row["workspace_id"],
        name=row["name"],
        kind=row["kind"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state=row["state"],
        config=json.loads(row["config"]),
        models=json.loads(row["models"]),
        inference=json.loads(row["inference"]),
        scoring_uri=row["scoring_uri"],
        swagger_uri=row["swagger_uri"],
        host=row["host"],
        pid=row["pid"],
        error=json.loads(row["error"]) if row["error"] is not None else None,
        description=row["description"],
        tags=json.loads(row["tags"]),
        properties=json.loads(row["properties"]),
    )
