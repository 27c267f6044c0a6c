"""The users part of ``SqlStore``: users, per-workspace roles and access tokens.

Tables ``users``, ``role_assignments`` and ``tokens`` (migration 0002). Tokens arrive as
hashes; the store never sees a token itself. ``find_token`` is on the path of every request
to a server, so it is one query on the unique index of ``tokens.token_hash`` joined to the
primary key of ``users``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from plinth._store.base import ROLES, USER_KINDS, TokenMatch, TokenRecord, UserRecord
from plinth._store.schema import role_assignments, tokens, users, workspaces
from plinth.exceptions import AlreadyExistsError, NotFoundError, ValidationError

__all__ = ["SqlUsers", "check_user_name", "check_role"]

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,254}$")

# Columns of a user under names that do not clash with a token's in a join.
_USER_COLUMNS = (
    users.c.id.label("user_id"),
    users.c.name.label("user_name"),
    users.c.kind.label("user_kind"),
    users.c.created_at.label("user_created_at"),
    users.c.disabled.label("user_disabled"),
    users.c.secret_hash.label("user_secret_hash"),
)
_TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.created_at,
    tokens.c.description,
    tokens.c.expires_at,
    tokens.c.last_used_at,
    tokens.c.revoked,
)


def check_user_name(name: Any) -> str:
    if not isinstance(name, str) or not _USER_NAME.fullmatch(name):
        raise ValidationError(
            f"user name {name!r} is not valid: use 1-255 letters, digits, '_', '.', '@', '+' "
            "or '-', starting with a letter or digit."
        )
    return name


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise ValidationError(f"role {role!r} is not one of {', '.join(ROLES)}.")
    return role


class SqlUsers:
    """Mixin of ``SqlStore`` (which provides ``_tx`` and ``_retrying``)."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    # -- users ----------------------------------------------------------------------------

    def create_user(
        self, name: str, kind: str = "user", secret_hash: str | None = None
    ) -> UserRecord:
        check_user_name(name)
        if kind not in USER_KINDS:
            raise ValidationError(f"kind {kind!r} is not one of {', '.join(USER_KINDS)}.")
        if kind == "service_principal" and not secret_hash:
            raise ValidationError("A service principal needs secret_hash (its secret's hash).")
        record = UserRecord(uuid.uuid4().hex, name, kind, time.time(), False, secret_hash)
        try:
            with self._tx() as conn:
                conn.execute(
                    insert(users).values(
                        id=record.id,
                        name=name,
                        kind=kind,
                        secret_hash=secret_hash,
                        disabled=False,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError:
            raise AlreadyExistsError(f"A user named {name!r} already exists.") from None
        return record

    def get_user(self, name: str) -> UserRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(users.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"No user named {name!r}.")
        return _user(row)

    def list_users(self) -> list[UserRecord]:
        with self._tx(write=False) as conn:
            rows = conn.execute(select(*_USER_COLUMNS).order_by(users.c.name)).all()
        return [_user(r) for r in rows]

    def set_user_disabled(self, name: str, disabled: bool = True) -> UserRecord:
        with self._tx() as conn:
            done = conn.execute(
                update(users).where(users.c.name == name).values(disabled=bool(disabled))
            ).rowcount
        if not done:
            raise NotFoundError(f"No user named {name!r}.")
        return self.get_user(name)

    # -- roles ----------------------------------------------------------------------------

    def set_role(self, user_name: str, workspace_id: str, role: str | None) -> None:
        if role is not None:
            check_role(role)

        def assign(conn: Connection) -> None:
            user_id = _user_id(conn, user_name)
            key = (
                role_assignments.c.user_id == user_id,
                role_assignments.c.workspace_id == workspace_id,
            )
            if role is None:
                conn.execute(delete(role_assignments).where(*key))
                return
            found = conn.execute(
                select(workspaces.c.id).where(workspaces.c.id == workspace_id)
            ).first()
            if found is None:
                raise NotFoundError(f"No workspace with id {workspace_id!r}.")
            done = conn.execute(update(role_assignments).where(*key).values(role=role)).rowcount
            if not done:
                conn.execute(
                    insert(role_assignments).values(
                        user_id=user_id, workspace_id=workspace_id, role=role
                    )
                )

        self._retrying(assign)

    def roles_of(self, user_name: str) -> dict[str, str]:
        query = (
            select(users.c.id, role_assignments.c.workspace_id, role_assignments.c.role)
            .outerjoin(role_assignments, role_assignments.c.user_id == users.c.id)
            .where(users.c.name == user_name)
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        if not rows:
            raise NotFoundError(f"No user named {user_name!r}.")
        return {r.workspace_id: r.role for r in rows if r.workspace_id is not None}

    # -- tokens ---------------------------------------------------------------------------

    def create_token(
        self,
        user_name: str,
        token_hash: str,
        description: str | None = None,
        expires_at: float | None = None,
    ) -> TokenRecord:
        if not isinstance(token_hash, str) or not 16 <= len(token_hash) <= 128:
            raise ValidationError("token_hash must be a hash of the token (16-128 characters).")
        now = time.time()
        record = TokenRecord(uuid.uuid4().hex, user_name, now, description, expires_at)
        try:
            with self._tx() as conn:
                conn.execute(
                    insert(tokens).values(
                        id=record.id,
                        user_id=_user_id(conn, user_name),
                        token_hash=token_hash,
                        description=description,
                        created_at=now,
                        expires_at=expires_at,
                        last_used_at=None,
                        revoked=False,
                    )
                )
        except IntegrityError:
            raise AlreadyExistsError("A token with that hash already exists.") from None
        return record

    def find_token(self, token_hash: str) -> TokenMatch:
        query = (
            select(*_TOKEN_COLUMNS, *_USER_COLUMNS)
            .join(users, users.c.id == tokens.c.user_id)
            .where(tokens.c.token_hash == token_hash)
        )
        with self._tx(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError("No such token.")
        if row.revoked:
            raise NotFoundError("The token was revoked.")
        if row.expires_at is not None and row.expires_at <= time.time():
            raise NotFoundError("The token has expired.")
        return TokenMatch(_token(row), _user(row))

    def list_tokens(self, user_name: str | None = None) -> list[TokenRecord]:
        query = select(*_TOKEN_COLUMNS, users.c.name.label("user_name")).join(
            users, users.c.id == tokens.c.user_id
        )
        if user_name is not None:
            query = query.where(users.c.name == user_name)
        query = query.order_by(tokens.c.created_at.desc(), tokens.c.id)
        with self._tx(write=False) as conn:
            if user_name is not None:
                _user_id(conn, user_name)
            rows = conn.execute(query).all()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str) -> TokenRecord:
        with self._tx() as conn:
            done = conn.execute(
                update(tokens).where(tokens.c.id == token_id).values(revoked=True)
            ).rowcount
            row = conn.execute(
                select(*_TOKEN_COLUMNS, users.c.name.label("user_name"))
                .join(users, users.c.id == tokens.c.user_id)
                .where(tokens.c.id == token_id)
            ).first()
        if not done or row is None:
            raise NotFoundError(f"No token with id {token_id!r}.")
        return _token(row)

    def touch_token(self, token_id: str, when: float | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id)
                .values(last_used_at=time.time() if when is None else when)
            )


def _user_id(conn: Connection, name: str) -> str:
    user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if user_id is None:
        raise NotFoundError(f"No user named {name!r}.")
    return user_id


def _user(row: Row) -> UserRecord:
    return UserRecord(
        id=row.user_id,
        name=row.user_name,
        kind=row.user_kind,
        created_at=row.user_created_at,
        disabled=bool(row.user_disabled),
        secret_hash=row.user_secret_hash,
    )


def _token(row: Row) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user_name=row.user_name,
        created_at=row.created_at,
        description=row.description,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked=bool(row.revoked),
    )
