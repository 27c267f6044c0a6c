"""``SecretBox``: AES-256-GCM with a key file; secret name and value checks.

Where the key lives (``default_key_file``), first match wins:

1. ``$PLINTH_SECRET_KEY_FILE``, when set (``plinth server --secret-key-file`` sets it for its
   worker processes);
2. for an embedded (SQLite) workspace: ``secrets.key`` next to ``plinth.db`` in the workspace
   folder, so the folder stays self-contained and deleting the workspace deletes the key;
3. otherwise (PostgreSQL): ``$PLINTH_HOME/secrets.key`` (default ``~/.plinth``).

A missing key file is created on first use with mode 0600, race-free: it is written under a
temporary name and hard-linked into place, so concurrent processes (a server's workers,
several SDK processes) all end up with the one key that won.

A stored value is ``v1:<key id>:<base64(nonce + ciphertext + tag)>``. The key id (8 hex digits
of the key's SHA-256) lets a wrong key be reported as such; the workspace id and secret name
are authenticated with the value, so a ciphertext copied into another row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from plinth.exceptions import StoreError, ValidationError

__all__ = [
    "ENV_SECRET_KEY_FILE",
    "KEY_FILE_NAME",
    "MAX_SECRET_BYTES",
    "SecretBox",
    "box_for",
    "check_secret_name",
    "check_secret_value",
    "default_key_file",
]

ENV_SECRET_KEY_FILE = "PLINTH_SECRET_KEY_FILE"
KEY_FILE_NAME = "secrets.key"
MAX_SECRET_BYTES = 25 * 1024  # Azure Key Vault's limit for a secret value
_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VERSION = "v1"
_NONCE = 12


def check_secret_name(name: Any, argument: str = "name") -> str:
    """``name`` if it is a valid secret name (Azure Key Vault's rule), else ValidationError."""
    if not isinstance(name, str):
        raise ValidationError(
            f"{argument} must be a str (a secret name), got {type(name).__name__}."
        )
    if not _NAME.match(name):
        given = repr(name) if len(name) <= 127 else f"a str of {len(name)} characters"
        shown = f"{argument}={given}" if argument.isidentifier() else f"{argument} ({given})"
        raise ValidationError(
            f"{shown} is not a valid secret name: use 1-127 letters, digits and '-' (the rule "
            "of Azure Key Vault), e.g. 'db-password'."
        )
    return name


def check_secret_value(value: Any, argument: str = "value") -> str:
    """``value`` if it can be stored as a secret. Messages never include the value."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{argument} must be a str (the secret's value), got {type(value).__name__}."
        )
    size = len(value.encode("utf-8"))
    if size > MAX_SECRET_BYTES:
        raise ValidationError(
            f"{argument} is {size} bytes long; a secret holds at most {MAX_SECRET_BYTES} bytes."
        )
    return value


def default_key_file(metadata_uri: str) -> Path:
    """The key file of the store at ``metadata_uri`` (see the module docstring). Read from
    the environment on each call, so it follows ``PLINTH_SECRET_KEY_FILE`` and
    ``PLINTH_HOME`` as they are now."""
    configured = os.environ.get(ENV_SECRET_KEY_FILE)
    if configured:
        return Path(os.path.abspath(os.path.expanduser(configured)))
    folder = _sqlite_folder(metadata_uri)
    if folder is not None:
        return folder / KEY_FILE_NAME
    home = os.environ.get("PLINTH_HOME") or Path.home() / ".plinth"
    return Path(os.path.abspath(home)) / KEY_FILE_NAME


@functools.lru_cache(maxsize=64)
def _sqlite_folder(metadata_uri: str) -> Path | None:
    if not metadata_uri.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(metadata_uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve().parent


_boxes: dict[Path, "SecretBox"] = {}


def box_for(key_file: Path) -> "SecretBox":
    """The one ``SecretBox`` of ``key_file`` in this process (its key is read once)."""
    box = _boxes.get(key_file)
    if box is None:
        box = _boxes.setdefault(key_file, SecretBox(key_file))
    return box


class SecretBox:
    """Encrypts and decrypts secret values with the key in ``key_file`` (read, or created,
    on first use)."""

    def __init__(self, key_file: str | os.PathLike):
        self.key_file = Path(key_file)
        self._cipher: Any = None
        self._key_id = ""

    def __repr__(self) -> str:
        return f"SecretBox(key_file={str(self.key_file)!r})"

    @property
    def key_id(self) -> str:
        self._load()
        return self._key_id

    def encrypt(self, value: str, *, workspace_id: str, name: str) -> str:
        cipher = self._load()
        nonce = os.urandom(_NONCE)
        sealed = cipher.encrypt(nonce, value.encode("utf-8"), _context(workspace_id, name))
        token = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{_VERSION}:{self._key_id}:{token}"

    def decrypt(self, stored: str, *, workspace_id: str, name: str) -> str:
        from cryptography.exceptions import InvalidTag

        cipher = self._load()
        try:
            version, key_id, token = stored.split(":", 2)
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (ValueError, binascii.Error):
            version, key_id, raw = "?", "?", b""
        if version != _VERSION or len(raw) <= _NONCE:
            raise StoreError(f"The stored value of secret {name!r} is damaged; set it again.")
        if key_id != self._key_id:
            raise StoreError(
                f"Secret {name!r} was encrypted with key {key_id}, but this store's key file "
                f"{self.key_file} holds key {self._key_id}. Point {ENV_SECRET_KEY_FILE} at the "
                "key file it was written with (a database copied without its key cannot be "
                "decrypted), or set the secret again."
            )
        try:
            plain = cipher.decrypt(raw[:_NONCE], raw[_NONCE:], _context(workspace_id, name))
        except InvalidTag:
            raise StoreError(
                f"The stored value of secret {name!r} does not decrypt with key {key_id} from "
                f"{self.key_file}: it was altered, or copied from another secret or workspace."
            ) from None
        return plain.decode("utf-8")

    # -- the key file -----------------------------------------------------------------------

    def _load(self) -> Any:
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            key = _read_or_create(self.key_file)
            self._key_id = hashlib.sha256(key).hexdigest()[:8]
            self._cipher = AESGCM(key)
        return self._cipher


def _context(workspace_id: str, name: str) -> bytes:
    return f"plinth-secret\0{workspace_id}\0{name}".encode()


def _read_or_create(path: Path) -> bytes:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        content = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii") + "\n"
        _write_new(temporary, content)
        try:
            os.link(temporary, path)  # fails if another process created it first
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: create it in place instead
            try:
                _write_new(path, content)
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the secrets key file {path}: {exc.strerror or exc}. Make its folder "
            f"writable, or set {ENV_SECRET_KEY_FILE} to a key file."
        ) from None
    return _read(path)


def _write_new(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


def _read(path: Path) -> bytes:
    for _ in range(50):
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"Cannot read the secrets key file {path}: {exc}.") from None
        if text:
            break
        time.sleep(0.02)  # created in place by another process that is still writing it
    try:
        key = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_"))
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise StoreError(
            f"The secrets key file {path} does not hold a key: it must contain 32 random bytes "
            "in base64 (e.g. the output of `openssl rand -base64 32`)."
        )
    return key
