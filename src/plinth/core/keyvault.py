"""``Keyvault``: the secrets of a workspace (``azureml.core.keyvault.Keyvault``).

Get it with ``ws.get_default_keyvault()``; inside a submitted run, ``run.get_secret(name)``
reads from it. Values are encrypted at rest with a key kept outside the metadata database
(see ``docs/architecture.md``, "Secrets"): for an embedded workspace ``secrets.key`` in the
workspace folder, for a PostgreSQL one ``$PLINTH_HOME/secrets.key`` or
``$PLINTH_SECRET_KEY_FILE``, and for a workspace on a server the server's key, which clients
never receive. Listings give names only, and no repr or error message shows a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from plinth._secrets import check_secret_name, check_secret_value
from plinth.exceptions import NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace

__all__ = ["Keyvault"]


class Keyvault:
    """The key vault of ``workspace``: named secret values, set and read by name.

    Names follow Azure Key Vault's rule: 1-127 letters, digits and '-'. Names are case
    sensitive here (Azure Key Vault ignores case).
    """

    def __init__(self, workspace: "Workspace"):
        from plinth.core.workspace import Workspace

        if not isinstance(workspace, Workspace):
            raise UserErrorException(
                f"workspace must be a Workspace, got {type(workspace).__name__}; use "
                "ws.get_default_keyvault()."
            )
        self.workspace = workspace

    @property
    def _store(self):
        return self.workspace._store

    @property
    def _ws_id(self) -> str:
        return self.workspace._id

    # -- writing ---------------------------------------------------------------------------

    def set_secret(self, name: str, value: str) -> None:
        """Add the secret ``name``, or replace its value."""
        check_secret_name(name, "name")
        check_secret_value(value, "value")
        self._store.set_secrets(self._ws_id, {name: value})

    def set_secrets(self, secrets_batch: Mapping[str, str] | None = None, *,
                    secrets: Mapping[str, str] | None = None) -> None:
        """Add or replace several secrets at once, all or none: a dict of name -> value
        (azureml names the argument ``secrets_batch``; ``secrets=`` works too)."""
        argument, batch = _one_of(("secrets_batch", secrets_batch), ("secrets", secrets))
        if not isinstance(batch, Mapping):
            raise UserErrorException(
                f"{argument} must be a dict of secret name -> value, got {type(batch).__name__}."
            )
        for name, value in batch.items():
            check_secret_name(name, f"a key of {argument}")
            check_secret_value(value, f"{argument}[{name!r}]")
        self._store.set_secrets(self._ws_id, dict(batch))

    def delete_secret(self, name: str) -> None:
        """Delete the secret ``name``."""
        check_secret_name(name, "name")
        try:
            self._store.delete_secrets(self._ws_id, [name])
        except NotFoundError:
            raise NotFoundError(self._missing(name)) from None

    def delete_secrets(self, secrets: Iterable[str]) -> None:
        """Delete the named secrets, all or none (none when one of them does not exist)."""
        names = _names(secrets, "secrets")
        try:
            self._store.delete_secrets(self._ws_id, names)
        except NotFoundError as exc:
            raise NotFoundError(
                f"{exc} keyvault.list_secrets() lists the secrets of workspace "
                f"{self.workspace.name!r}."
            ) from None

    # -- reading ---------------------------------------------------------------------------

    def get_secret(self, name: str) -> str:
        """The value of the secret ``name``."""
        check_secret_name(name, "name")
        found = self._store.get_secrets(self._ws_id, [name])
        if name not in found:
            raise NotFoundError(self._missing(name))
        return found[name]

    def get_secrets(self, secrets: Iterable[str]) -> dict[str, str | None]:
        """Name -> value for each of ``secrets``; None for a name that has no secret (as
        azureml returns "found and not found" secrets)."""
        names = _names(secrets, "secrets")
        found = self._store.get_secrets(self._ws_id, names) if names else {}
        return {name: found.get(name) for name in names}

    def list_secrets(self) -> list[dict[str, str]]:
        """The secrets' names, as ``[{'name': ...}]``; values are never listed."""
        return [{"name": record.name} for record in self._store.list_secrets(self._ws_id)]

    def _missing(self, name: str) -> str:
        return (
            f"No secret named {name!r} in the key vault of workspace {self.workspace.name!r}; "
            "keyvault.list_secrets() lists the names it has."
        )

    def __repr__(self) -> str:
        return f"Keyvault(workspace={self.workspace.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keyvault) and other.workspace == self.workspace

    def __hash__(self) -> int:
        return hash(("Keyvault", self.workspace))


def _one_of(*candidates: tuple[str, Any]) -> tuple[str, Any]:
    given = [(argument, value) for argument, value in candidates if value is not None]
    if len(given) != 1:
        names = " or ".join(argument for argument, _ in candidates)
        raise UserErrorException(f"Pass exactly one of {names}: a dict of name -> value.")
    return given[0]


def _names(secrets: Iterable[str], argument: str) -> list[str]:
    """The distinct names of ``secrets``, each checked."""
    if isinstance(secrets, str | bytes) or not isinstance(secrets, Iterable):
        raise UserErrorException(
            f"{argument} must be a list of secret names, got {type(secrets).__name__}; "
            "for one secret use get_secret(name) / delete_secret(name)."
        )
    names = list(secrets)
    for name in names:
        check_secret_name(name, f"an item of {argument}")
    return list(dict.fromkeys(names))
