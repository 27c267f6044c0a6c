"""The environments part of ``SqlStore``: registered environment versions.

Table ``environments`` (migration 0005). ``check_environment_args`` is shared with
``RestStore``, so both raise the same errors before any write.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.engine import Row

from plinth._store.base import EnvironmentRecord
from plinth._store.schema import environments, workspaces
from plinth.exceptions import NotFoundError, ValidationError

__all__ = ["SqlEnvironments", "check_environment_args", "check_environment_name"]

_ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
MAX_DIGEST = 128


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def check_environment_name(name: Any) -> str:
    if not isinstance(name, str) or not _ENVIRONMENT_NAME.fullmatch(name):
        raise ValidationError(
            f"name={name!r} is not a valid environment name: use 1-255 letters, digits, '-', "
            "'_' or '.', starting with a letter or digit (e.g. 'sklearn-env')."
        )
    return name


def check_environment_args(name: Any, definition: Any, digest: Any) -> dict[str, Any]:
    """The checked ``definition``: a deep copy, as it will read back."""
    check_environment_name(name)
    if not isinstance(digest, str) or not 1 <= len(digest) <= MAX_DIGEST or (
        not digest.isprintable()
    ):
        raise ValidationError(
            f"digest={digest!r} must be a str of 1-{MAX_DIGEST} printable characters "
            "(the digest of the environment's normalised package spec)."
        )
    if not isinstance(definition, Mapping) or not all(isinstance(k, str) for k in definition):
        raise ValidationError(
            "definition must be a dict with str keys: what Environment serialises."
        )
    return json.loads(_dumps(dict(definition)))


class SqlEnvironments:
    """Mixin of ``SqlStore`` (which provides ``_tx`` and ``_retrying``)."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    def register_environment(
        self, workspace_id: str, name: str, *, definition: Mapping[str, Any], digest: str
    ) -> EnvironmentRecord:
        definition = check_environment_args(name, definition, digest)
        text = _dumps(definition)

        def write(conn: Connection) -> EnvironmentRecord:
            if conn.execute(
                select(workspaces.c.id).where(workspaces.c.id == workspace_id)
            ).first() is None:
                raise NotFoundError(f"No workspace with id {workspace_id!r}.")
            latest = conn.execute(
                select(environments)
                .where(*_of_name(workspace_id, name))
                .order_by(environments.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.digest == digest:
                return _environment(latest)
            # A concurrent writer that took the same number makes the insert collide on the
            # primary key; _retrying then reads again, and finds its version (same digest)
            # or numbers after it.
            record = EnvironmentRecord(
                workspace_id=workspace_id,
                name=name,
                version=(latest.version if latest is not None else 0) + 1,
                digest=digest,
                created_at=time.time(),
                definition=json.loads(text),
            )
            conn.execute(
                insert(environments).values(
                    workspace_id=workspace_id,
                    name=name,
                    version=record.version,
                    digest=digest,
                    definition=text,
                    created_at=record.created_at,
                )
            )
            return record

        return self._retrying(write)

    def get_environment(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> EnvironmentRecord:
        query = select(environments).where(*_of_name(workspace_id, name))
        if version is None:
            query = query.order_by(environments.c.version.desc()).limit(1)
        else:
            query = query.where(environments.c.version == int(version))
        with self._tx(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFoundError(
                f"No environment named {name!r} with {which} in this workspace; "
                "register it first."
            )
        return _environment(row)

    def list_environments(
        self, workspace_id: str, name: str | None = None
    ) -> list[EnvironmentRecord]:
        query = select(environments).where(environments.c.workspace_id == workspace_id)
        if name is not None:
            query = query.where(environments.c.name == name)
        query = query.order_by(environments.c.name, environments.c.version.desc())
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_environment(r) for r in rows]

    def _delete_environments(self, conn: Connection, workspace_id: str) -> None:
        """In ``delete_workspace``'s transaction: the workspace's environment versions."""
        conn.execute(delete(environments).where(environments.c.workspace_id == workspace_id))


def _of_name(workspace_id: str, name: str) -> tuple:
    return (environments.c.workspace_id == workspace_id, environments.c.name == name)


def _environment(row: Row) -> EnvironmentRecord:
    return EnvironmentRecord(
        workspace_id=row.workspace_id,
        name=row.name,
        version=row.version,
        digest=row.digest,
        created_at=row.created_at,
        definition=json.loads(row.definition),
    )
