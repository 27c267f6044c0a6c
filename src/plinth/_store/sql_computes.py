"""The compute targets part of ``SqlStore``: a workspace's named compute targets.

Table ``computes`` (migration 0006). ``check_compute_args`` is shared with ``RestStore``, so
both raise the same errors before any write.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.engine import Row

from plinth._store.base import COMPUTE_KINDS, ComputeRecord
from plinth._store.schema import computes, workspaces
from plinth.exceptions import AlreadyExistsError, NotFoundError, ValidationError

__all__ = [
    "RESERVED_COMPUTE_NAMES",
    "SqlComputes",
    "check_compute_args",
    "check_compute_name",
    "could_be_compute_name",
]

_COMPUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,23}")
#: Names no compute target may take (in any case): ``local`` is this machine, always there.
RESERVED_COMPUTE_NAMES = frozenset({"local"})
_SUCCEEDED = "Succeeded"


def check_compute_name(name: Any) -> str:
    if not isinstance(name, str) or not _COMPUTE_NAME.fullmatch(name):
        raise ValidationError(
            f"name={name!r} is not a valid compute target name: use 2-24 letters, digits or "
            "'-', starting with a letter (e.g. 'aml-cluster')."
        )
    if name.lower() in RESERVED_COMPUTE_NAMES:
        raise ValidationError(
            f"name={name!r} is reserved: 'local' is this machine, always a compute target; "
            "choose another name."
        )
    return name


def check_compute_args(name: Any, kind: Any, config: Any) -> dict[str, Any]:
    """The checked ``config``: a deep copy, as it will read back."""
    check_compute_name(name)
    if not isinstance(kind, str) or kind not in COMPUTE_KINDS:
        raise ValidationError(
            f"kind={kind!r} is not a compute target kind; use one of {', '.join(COMPUTE_KINDS)}."
        )
    if not isinstance(config, Mapping) or not all(isinstance(k, str) for k in config):
        raise ValidationError("config must be a dict with str keys: the target's settings.")
    try:
        text = json.dumps(dict(config), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"config must hold only JSON values (str, int, float, bool, None, lists and dicts "
            f"with str keys; no NaN or infinity): {exc}"
        ) from None
    return json.loads(text)


class SqlComputes:
    """Mixin of ``SqlStore`` (which provides ``_tx`` and ``_retrying``)."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    def create_compute(
        self, workspace_id: str, name: str, *, kind: str, config: Mapping[str, Any]
    ) -> ComputeRecord:
        config = check_compute_args(name, kind, config)
        text = json.dumps(config, separators=(",", ":"))

        def write(conn: Connection) -> ComputeRecord:
            ws_name = _workspace_name(conn, workspace_id)
            if ws_name is None:
                raise NotFoundError(f"No workspace with id {workspace_id!r}.")
            # A concurrent writer of the same name makes the insert collide on the primary
            # key; _retrying then runs this again, and the check below finds its row.
            if conn.execute(select(computes.c.name).where(*_key(workspace_id, name))).first():
                raise AlreadyExistsError(
                    f"A compute target named {name!r} already exists in workspace "
                    f"{ws_name!r}; choose another name, or delete that one first."
                )
            record = ComputeRecord(
                workspace_id=workspace_id,
                name=name,
                kind=kind,
                created_at=time.time(),
                config=json.loads(text),
                state=_SUCCEEDED,
            )
            conn.execute(
                insert(computes).values(
                    workspace_id=workspace_id,
                    name=name,
                    kind=kind,
                    config=text,
                    state=record.state,
                    created_at=record.created_at,
                )
            )
            return record

        return self._retrying(write)

    def get_compute(self, workspace_id: str, name: str) -> ComputeRecord:
        with self._tx(write=False) as conn:
            row = None
            if could_be_compute_name(name):
                row = conn.execute(select(computes).where(*_key(workspace_id, name))).first()
            if row is None:
                raise _not_found(conn, workspace_id, name)
        return _compute(row)

    def list_computes(self, workspace_id: str) -> list[ComputeRecord]:
        query = (
            select(computes)
            .where(computes.c.workspace_id == workspace_id)
            .order_by(computes.c.name)
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_compute(r) for r in rows]

    def delete_compute(self, workspace_id: str, name: str) -> None:
        with self._tx() as conn:
            deleted = 0
            if could_be_compute_name(name):
                deleted = conn.execute(delete(computes).where(*_key(workspace_id, name))).rowcount
            if deleted == 0:
                raise _not_found(conn, workspace_id, name)

    def _delete_computes(self, conn: Connection, workspace_id: str) -> None:
        """In ``delete_workspace``'s transaction: the workspace's compute targets."""
        conn.execute(delete(computes).where(computes.c.workspace_id == workspace_id))


def could_be_compute_name(name: Any) -> bool:
    """Whether a target could have this name. Others are not looked up: PostgreSQL refuses
    some strings (with NUL) in a query, and in a URL '..' would name the workspace itself."""
    return isinstance(name, str) and _COMPUTE_NAME.fullmatch(name) is not None


def _key(workspace_id: str, name: Any) -> tuple:
    return (computes.c.workspace_id == workspace_id, computes.c.name == name)


def _workspace_name(conn: Connection, workspace_id: str) -> str | None:
    return conn.execute(
        select(workspaces.c.name).where(workspaces.c.id == workspace_id)
    ).scalar_one_or_none()


def _not_found(conn: Connection, workspace_id: str, name: Any) -> NotFoundError:
    ws_name = _workspace_name(conn, workspace_id)
    if ws_name is None:
        return NotFoundError(
            f"No compute target named {name!r}: there is no workspace with id {workspace_id!r}."
        )
    return NotFoundError(
        f"No compute target named {name!r} in workspace {ws_name!r}; list_computes shows "
        "those that exist."
    )


def _compute(row: Row) -> ComputeRecord:
    return ComputeRecord(
        workspace_id=row.workspace_id,
        name=row.name,
        kind=row.kind,
        created_at=row.created_at,
        config=json.loads(row.config),
        state=row.state,
    )
