"""From a dataset definition to the files it names, their fingerprint, and snapshots.

A definition's ``sources`` are dicts of one of these shapes:

* ``{"datastore": NAME, "path": PATTERN}`` - a path or glob in a workspace datastore;
* ``{"url": URL_OR_LOCAL_PATH}`` - a URL or a local path, globs allowed;
* ``{"datastore": NAME, "files": [[STORED_NAME, NAME], ...]}`` - an explicit file list, as a
  snapshot writes it (content-addressed names, the original names kept for downloads).

Globs resolve when the data is read, so a dataset over ``data/*.csv`` sees files added later.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from plinth._artifacts.store import file_sha256
from plinth._data.files import DatastoreFiles
from plinth.exceptions import UserErrorException, ValidationError

__all__ = [
    "ResolvedFile",
    "check_fingerprint",
    "fingerprint",
    "kept_files",
    "place_files",
    "resolve",
    "snapshot_sources",
    "wildcard_base",
]

SNAPSHOT_PREFIX = "snapshots/datasets"


class ResolvedFile(NamedTuple):
    """One file of a dataset: where it is stored, and its name relative to its source's base
    (what a download or ``to_path()`` shows)."""

    files: DatastoreFiles
    name: str
    relname: str


def wildcard_base(pattern: str) -> str:
    """The folder part of ``pattern`` before its first wildcard ('' for none)."""
    parts = pattern.strip("/").split("/")
    fixed = []
    for part in parts:
        if any(c in part for c in "*?["):
            return "/".join(fixed)
        fixed.append(part)
    return "/".join(fixed[:-1])


def resolve(location: Any, workspace_id: str, sources: Sequence[Mapping[str, Any]],
            *, must_match: bool = True) -> list[ResolvedFile]:
    """Every file the sources name, in source order (each source's files sorted)."""
    from plinth._data.filesystems import open_datastore, open_url

    opened: dict[str, DatastoreFiles] = {}

    def datastore(name: str) -> DatastoreFiles:
        if location is None:
            raise UserErrorException(
                f"This dataset reads datastore {name!r} but belongs to no workspace; create "
                "it from (datastore, path) tuples of a workspace's datastores."
            )
        if name not in opened:
            record = location.store().get_datastore(workspace_id, name)
            opened[name] = open_datastore(location, record)
        return opened[name]

    found: list[ResolvedFile] = []
    for source in sources:
        if "files" in source:
            files = datastore(source["datastore"])
            found.extend(ResolvedFile(files, stored, rel) for stored, rel in source["files"])
            continue
        if "url" in source:
            files, pattern = open_url(source["url"])
            where = source["url"]
        else:
            files, pattern = datastore(source["datastore"]), source["path"].strip("/")
            where = f"{source['datastore']}:{pattern}"
        names = files.glob(pattern)
        if not names and must_match:
            raise UserErrorException(
                f"The dataset's path {where!r} matches no files. Check the path and the "
                "wildcards, or upload the data first (datastore.upload(...))."
            )
        base = wildcard_base(pattern) if any(c in pattern for c in "*?[") else _folder(
            files, pattern)
        found.extend(ResolvedFile(files, n, _relative(n, base)) for n in names)
    return found


def _folder(files: DatastoreFiles, pattern: str) -> str:
    """The base of a path without wildcards: itself when it is a folder, else its parent."""
    if not pattern:
        return ""
    names = files.glob(pattern)
    if names == [pattern]:
        return pattern.rpartition("/")[0]
    return pattern


def _relative(name: str, base: str) -> str:
    return name[len(base) + 1:] if base and name.startswith(base + "/") else name


def kept_files(files: Sequence[ResolvedFile], transforms: Sequence[Mapping[str, Any]]
               ) -> list[ResolvedFile]:
    """The files a file dataset's transformations (take, skip, sample, split) keep."""
    from plinth._data.transforms import apply_file_transforms

    by_name = {f.relname: f for f in files}
    return [by_name[n] for n in apply_file_transforms(list(by_name), transforms)]


def place_files(files: Sequence[ResolvedFile], target: Path, *, link_local: bool) -> int:
    """Put each file at ``target/<relname>``: a link to a file on this disk when
    ``link_local`` (nothing copied), else a downloaded copy. Returns how many were copied."""
    from plinth._data.transfer import download_pairs

    target.mkdir(parents=True, exist_ok=True)
    copies = []
    for f in files:
        local = f.files.local_path(f.name) if link_local else None
        if local is not None:
            (target / f.relname).parent.mkdir(parents=True, exist_ok=True)
            (target / f.relname).symlink_to(local)
        else:
            copies.append((f.files, f.name, target / f.relname))
    download_pairs(copies, overwrite=True, show_progress=False)
    return len(copies)


def fingerprint(files: Iterable[ResolvedFile]) -> dict[str, Any]:
    """What the files are now: names, sizes, and etags (or modification times)."""
    entries = []
    for f in files:
        info = f.files.stat(f.name)
        entries.append([f"{f.files.uri.rstrip('/')}/{f.name}", info.get("size"),
                        info.get("etag") or info.get("mtime")])
    digest = hashlib.sha256(json.dumps(entries, default=str).encode()).hexdigest()
    return {"files": entries, "digest": digest}


def check_fingerprint(recorded: Mapping[str, Any], files: Sequence[ResolvedFile],
                      label: str) -> None:
    """Warn when the data has changed since the dataset version was registered."""
    if not recorded or not recorded.get("digest"):
        return
    now = fingerprint(files)
    if now["digest"] == recorded["digest"]:
        return
    before = {e[0]: e[1:] for e in recorded.get("files", [])}
    after = {e[0]: e[1:] for e in now["files"]}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    detail = "; ".join(
        f"{what}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
        for what, names in (("added", added), ("removed", removed), ("changed", changed))
        if names
    )
    warnings.warn(
        f"The data of {label} changed since it was registered ({detail}). Register it with "
        "snapshot=True to keep a version's data fixed.",
        DataChangedWarning,
        stacklevel=3,
    )


class DataChangedWarning(UserWarning):
    """The files behind a registered dataset version changed after registration."""


def snapshot_sources(files: Sequence[ResolvedFile], target: DatastoreFiles,
                     target_name: str) -> list[dict[str, Any]]:
    """Copy the files by content into ``target`` (the workspace's ``workspaceblobstore``) and
    return the one source that names the copies."""
    if not files:
        raise ValidationError("snapshot=True needs a dataset that matches at least one file.")
    pairs = []
    with tempfile.TemporaryDirectory(prefix="plinth-snapshot-") as tmp:
        for i, f in enumerate(files):
            local = f.files.local_path(f.name)
            if local is None:
                local = os.path.join(tmp, str(i))
                f.files.get_file(f.name, local)
            digest = file_sha256(local)
            stored = f"{SNAPSHOT_PREFIX}/{digest[:2]}/{digest}"
            if not target.exists(stored):
                target.put_file(local, stored)
            pairs.append([stored, f.relname])
    return [{"datastore": target_name, "files": pairs}]

