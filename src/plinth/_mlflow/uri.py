"""The ``plinth:`` URI: which workspace an MLflow client talks to, and which of its files.

Form::

    plinth://<workspace-name>[/<artifact name>][?path=<workspace folder or config.json>]

* The host part is the workspace's name.
* ``path=`` (optional; an absolute, percent-encoded path) says where the workspace lives: an
  embedded workspace folder (the one holding ``plinth.db``), a ``config.json`` written by
  ``ws.write_config()``, or a folder holding one (also in ``.plinth/`` or ``.azureml/``).
  Without it, the name is looked up first in ``PLINTH_WORKSPACE`` (which every submitted run
  has) and then in the registry ``$PLINTH_HOME/registry/<name>.json`` that
  ``Workspace.create`` writes.
* The path part is empty in a tracking URI. In an artifact URI it is a name relative to the
  workspace's artifact root: ``runs/<run_id>[/<file>]``.

``plinth:///abs/path`` (no host) is accepted as a tracking URI too: the path is a workspace
folder or config file as above, and the workspace name is read from it.

``Workspace.get_mlflow_tracking_uri()`` (:func:`tracking_uri`) gives
``plinth://dev?path=/home/me/.plinth/workspaces/dev`` for an embedded workspace (complete in
itself: any process on the machine can use it, registered or not) and ``plinth://dev`` for
one on PostgreSQL, which is found through the registry, so a database password never sits
in a URI that MLflow prints, logs and passes on in ``MLFLOW_TRACKING_URI``.

Nothing here imports MLflow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlparse

from plinth._location import WorkspaceLocation, plinth_home
from plinth.exceptions import NotFoundError, ValidationError

__all__ = ["SCHEME", "PlinthUri", "parse", "resolve", "tracking_uri", "format_uri"]

SCHEME = "plinth"
_CONFIG_FILE = "config.json"
_CONFIG_FOLDERS = (".plinth", ".azureml")


class PlinthUri(NamedTuple):
    """A parsed ``plinth:`` URI."""

    name: str | None  # the workspace name (None: read it from ``path``)
    path: str | None  # where the workspace lives (None: PLINTH_WORKSPACE or the registry)
    artifact_name: str  # '' for a tracking URI; 'runs/<id>/...' for an artifact URI


def format_uri(name: str, path: str | None = None, artifact_name: str = "") -> str:
    """``plinth://name[/artifact_name][?path=...]``."""
    uri = f"{SCHEME}://{name}"
    if artifact_name:
        uri += "/" + quote(artifact_name.strip("/"), safe="/")
    if path:
        uri += "?path=" + quote(path, safe="/")
    return uri


def tracking_uri(location: WorkspaceLocation) -> str:
    """The tracking URI of a workspace (see the module docstring)."""
    if getattr(location, "server_url", None):
        raise NotImplementedError(
            f"Workspace {location.name!r} is served by {location.server_url}; its MLflow "
            "tracking URI comes from the workspace server, not from a plinth: URI."
        )
    folder = location.folder
    if folder is not None and location == WorkspaceLocation.embedded(
        location.name, folder, dict(location.properties)
    ):
        return format_uri(location.name, str(folder))
    return format_uri(location.name)


def parse(uri: str) -> PlinthUri:
    """Split a ``plinth:`` URI; raises ValidationError when it is not one."""
    parsed = urlparse(uri)
    if parsed.scheme != SCHEME:
        raise ValidationError(f"{uri!r} is not a {SCHEME}: URI.")
    query = parse_qs(parsed.query)
    unknown = set(query) - {"path"}
    if unknown:
        raise ValidationError(
            f"{uri!r}: unknown query parameter(s) {sorted(unknown)}; only path= is understood."
        )
    path = query["path"][-1] if "path" in query else None
    name = unquote(parsed.netloc) or None
    artifact_name = unquote(parsed.path).strip("/")
    if name is None:
        # plinth:///abs/path: the path says where the workspace is; nothing names a file.
        if path is not None or not parsed.path.startswith("/") or not artifact_name:
            raise ValidationError(
                f"{uri!r} names no workspace: use plinth://<workspace-name> or "
                "plinth:///<absolute path of a workspace folder or config.json>."
            )
        path, artifact_name = "/" + artifact_name, ""
    if path is not None and not os.path.isabs(path):
        raise ValidationError(f"{uri!r}: path= must be an absolute path, got {path!r}.")
    return PlinthUri(name, path, artifact_name)


def resolve(uri: PlinthUri) -> WorkspaceLocation:
    """The workspace a parsed URI names; NotFoundError when it cannot be found."""
    if uri.path is not None:
        location = _from_path(Path(uri.path), uri.name)
    else:
        location = _from_env_or_registry(uri.name or "")
    if uri.name is not None and location.name != uri.name:
        raise NotFoundError(
            f"{uri.path} holds workspace {location.name!r}, not {uri.name!r}; "
            f"use {format_uri(location.name, uri.path)}."
        )
    return location


def _from_path(path: Path, name: str | None) -> WorkspaceLocation:
    if path.is_dir() and (path / "plinth.db").is_file():
        return WorkspaceLocation.embedded(name or _only_workspace(path), path)
    config = _find_config(path)
    if config is None:
        raise NotFoundError(
            f"{path} is neither a Plinth workspace folder (with plinth.db) nor a config.json; "
            "ws.get_mlflow_tracking_uri() gives the right URI."
        )
    try:
        return WorkspaceLocation.from_dict(json.loads(config.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise NotFoundError(f"{config} is not a Plinth workspace config ({exc}).") from None


def _find_config(path: Path) -> Path | None:
    if path.is_file():
        return path
    if path.is_dir():
        for candidate in (path / _CONFIG_FILE, *(path / d / _CONFIG_FILE for d in _CONFIG_FOLDERS)):
            if candidate.is_file():
                return candidate
    return None


def _only_workspace(folder: Path) -> str:
    """The name of the one workspace in an embedded folder's database."""
    probe = WorkspaceLocation.embedded("_", folder)
    names = [w.name for w in probe.store().list_workspaces()]
    if len(names) != 1:
        raise NotFoundError(
            f"{folder} holds {len(names)} workspaces ({', '.join(names) or 'none'}); name one: "
            f"plinth://<name>?path={quote(str(folder), safe='/')}."
        )
    return names[0]


def _from_env_or_registry(name: str) -> WorkspaceLocation:
    env = WorkspaceLocation.from_env()
    if env is not None and env.name == name:
        return env
    # The registry that plinth.core.workspace writes (the engine does not import the SDK).
    entry = plinth_home() / "registry" / f"{name}.json"
    if not entry.is_file():
        raise NotFoundError(
            f"No workspace named {name!r} on this machine (looked in PLINTH_WORKSPACE and "
            f"{entry.parent}); use ws.get_mlflow_tracking_uri() for the workspace's URI, or "
            "plinth://<name>?path=<workspace folder or config.json>."
        )
    return WorkspaceLocation.from_dict(json.loads(entry.read_text()))
