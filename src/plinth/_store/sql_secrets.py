"""The secrets part of ``SqlStore``: the workspace key vault in the ``secrets`` table.

Values are encrypted by a :class:`~plinth._secrets.SecretBox` before they are written and
decrypted after they are read, so the database only ever holds ciphertext. The box's key file
is :func:`~plinth._secrets.default_key_file` of the store's URI, looked up on each call;
assign ``store.secret_box`` to pin another.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from plinth._secrets import (
    SecretBox,
    box_for,
    check_secret_name,
    check_secret_value,
    default_key_file,
)
from plinth._store.base import SecretRecord
from plinth._store.schema import secrets as table
from plinth._store.schema import workspaces
from plinth.exceptions import NotFoundError, ValidationError

__all__ = ["SqlSecrets"]


class SqlSecrets:
    """Mixin of ``SqlStore`` (which provides ``uri``, ``_tx`` and ``_retrying``)."""

    uri: str
    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    @property
    def secret_box(self) -> SecretBox:
        """The box given to this store, else the one of ``default_key_file(uri)`` as the
        environment names it now."""
        box = self.__dict__.get("_secret_box")
        return box if box is not None else box_for(default_key_file(self.uri))

    @secret_box.setter
    def secret_box(self, box: SecretBox) -> None:
        self.__dict__["_secret_box"] = box

    def set_secrets(self, workspace_id: str, secrets: Mapping[str, str]) -> None:
        if not isinstance(secrets, Mapping):
            raise ValidationError(
                f"secrets must be a dict of name -> value, got {type(secrets).__name__}."
            )
        for name, value in secrets.items():
            check_secret_name(name, "secret name")
            check_secret_value(value, f"the value of secret {name!r}")
        box = self.secret_box
        sealed = {
            name: box.encrypt(value, workspace_id=workspace_id, name=name)
            for name, value in secrets.items()
        }
        now = time.time()

        def write(conn: Connection) -> None:
            _require_workspace(conn, workspace_id)
            if not sealed:
                return
            existing = set(
                conn.execute(
                    select(table.c.name)
                    .where(table.c.workspace_id == workspace_id, table.c.name.in_(list(sealed)))
                    .with_for_update()
                ).scalars()
            )
            new = [
                {"workspace_id": workspace_id, "name": name, "ciphertext": sealed[name],
                 "created_at": now, "updated_at": now}
                for name in sealed
                if name not in existing
            ]
            if new:
                conn.execute(insert(table), new)
            for name in existing:
                conn.execute(
                    update(table)
                    .where(table.c.workspace_id == workspace_id, table.c.name == name)
                    .values(ciphertext=sealed[name], updated_at=now)
                )

        self._retrying(write)

    def get_secrets(self, workspace_id: str, names: Sequence[str]) -> dict[str, str]:
        wanted = _names(names)
        if not wanted:
            return {}
        with self._tx(write=False) as conn:
            rows = conn.execute(
                select(table.c.name, table.c.ciphertext).where(
                    table.c.workspace_id == workspace_id, table.c.name.in_(wanted)
                )
            ).all()
        stored = {row.name: row.ciphertext for row in rows}
        box = self.secret_box
        return {
            name: box.decrypt(stored[name], workspace_id=workspace_id, name=name)
            for name in wanted
            if name in stored
        }

    def list_secrets(self, workspace_id: str) -> list[SecretRecord]:
        query = (
            select(table.c.workspace_id, table.c.name, table.c.created_at,
                   table.c.updated_at)
            .where(table.c.workspace_id == workspace_id)
            .order_by(table.c.name)
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [SecretRecord(r.workspace_id, r.name, r.created_at, r.updated_at) for r in rows]

    def delete_secrets(self, workspace_id: str, names: Sequence[str]) -> None:
        wanted = _names(names)
        if not wanted:
            return
        key = (table.c.workspace_id == workspace_id, table.c.name.in_(wanted))
        with self._tx() as conn:
            found = set(conn.execute(select(table.c.name).where(*key)).scalars())
            missing = [name for name in wanted if name not in found]
            if missing:
                raise NotFoundError(
                    f"No secret named {', '.join(map(repr, missing))} in this workspace; "
                    "nothing was deleted."
                )
            conn.execute(delete(table).where(*key))


def _names(names: Sequence[str]) -> list[str]:
    """The distinct names, in order, each checked."""
    if isinstance(names, str) or not isinstance(names, Sequence | set | frozenset):
        raise ValidationError(
            f"names must be a list of secret names, got {type(names).__name__}."
        )
    return list(dict.fromkeys(check_secret_name(n, "secret name") for n in names))


def _require_workspace(conn: Connection, workspace_id: str) -> None:
    if conn.execute(select(workspaces.c.id).where(workspaces.c.id == workspace_id)).first() is None:
        raise NotFoundError(f"No workspace with id {workspace_id!r}.")
