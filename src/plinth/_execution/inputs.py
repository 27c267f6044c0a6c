"""A run's data inputs and outputs: bound when the run is defined, made local by its worker.

Data references and datasets in a run's arguments become placeholders in the run
definition, with one *input spec* each (a plain dict, see ``DataReference._input_spec`` and
``DatasetConsumptionConfig._input_spec``). Before the script starts, the worker downloads or
links each input, replaces the placeholders with local paths (or a dataset's id), and after
a successful script uploads the folders of ``upload`` references.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = [
    "ENV_INPUT_DATASETS",
    "PreparedInputs",
    "add_spec",
    "placeholder",
    "prepare_inputs",
    "substitute",
    "upload_outputs",
]

ENV_INPUT_DATASETS = "PLINTH_INPUT_DATASETS"
log = logging.getLogger(__name__)


def placeholder(name: str) -> str:
    return f"{{{{plinth.input:{name}}}}}"


def add_spec(specs: list[dict[str, Any]], spec: Mapping[str, Any]) -> str:
    """Add ``spec`` to ``specs`` (once per name) and return its placeholder."""
    spec = dict(spec)
    for existing in specs:
        if existing["name"] == spec["name"]:
            if existing != spec:
                raise UserErrorException(
                    f"Two different inputs are named {spec['name']!r}; give each its own name "
                    "(as_named_input('...') or data_reference_name=...)."
                )
            break
    else:
        specs.append(spec)
    return placeholder(spec["name"])


def substitute(values: Sequence[str], bound: Mapping[str, str]) -> list[str]:
    """The arguments with every input placeholder replaced by its bound value."""
    out = []
    for value in values:
        for name, local in bound.items():
            value = value.replace(placeholder(name), local)
        out.append(value)
    return out


@dataclass
class PreparedInputs:
    values: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: list[dict[str, Any]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {ENV_INPUT_DATASETS: json.dumps(self.datasets)} if self.datasets else {}


def prepare_inputs(location: Any, workspace_id: str, specs: Sequence[Mapping[str, Any]],
                   workdir: Path, say: Callable[[str], None]) -> PreparedInputs:
    """Make every input available under ``workdir``; returns what to substitute."""
    prepared = PreparedInputs()
    for spec in specs:
        target = workdir / (spec.get("path_on_compute") or f"inputs/{spec['name']}")
        if spec["kind"] == "datastore_path":
            value = _datastore_path(location, workspace_id, spec, target, say)
            if spec["mode"] == "upload":
                prepared.uploads.append({**spec, "local": str(target)})
        else:
            value = _dataset(location, workspace_id, spec, target, say)
            prepared.datasets[spec["name"]] = {
                "id": spec["dataset_id"], "mode": spec["mode"],
                "path": None if spec["mode"] == "direct" else value,
            }
        prepared.values[spec["name"]] = value
    return prepared


def _datastore_path(location: Any, workspace_id: str, spec: Mapping[str, Any], target: Path,
                    say: Callable[[str], None]) -> str:
    from plinth._data.filesystems import open_datastore

    record = location.store().get_datastore(workspace_id, spec["datastore"])
    files = open_datastore(location, record)
    path = spec["path"]
    if spec["mode"] == "upload":
        target.mkdir(parents=True, exist_ok=True)
        return str(target)
    names = files.glob(path) if path else files.list()
    is_file = bool(path) and names == [path]
    if spec["mode"] == "mount":
        local = files.local_path(path) if path else _local_root(files)
        if local is not None and local.exists():
            say(f"Input {spec['name']}: {files.uri}/{path} is on this machine; using it in place.")
            return str(local)
        say(f"Input {spec['name']}: no FUSE mount here; copying {files.uri}/{path} into a "
            f"local cache at {target}.")
    else:
        say(f"Input {spec['name']}: downloading {len(names)} file(s) from {files.uri}/{path}.")
    from plinth._data.transfer import download_pairs

    base = path.rpartition("/")[0] if is_file else path
    pairs = [(files, n, target / (n[len(base) + 1:] if base else n)) for n in names]
    download_pairs(pairs, overwrite=True, show_progress=False)
    target.mkdir(parents=True, exist_ok=True)
    return str(target / path.rpartition("/")[2]) if is_file else str(target)


def _local_root(files: Any) -> Path | None:
    probe = files.local_path("probe")
    return probe.parent if probe is not None else None


def _dataset(location: Any, workspace_id: str, spec: Mapping[str, Any], target: Path,
             say: Callable[[str], None]) -> str:
    if spec["mode"] == "direct":
        return spec["dataset_id"]
    from plinth._data.resolve import kept_files, place_files, resolve

    record = location.store().get_dataset_by_id(workspace_id, spec["dataset_id"])
    definition = record.definition
    files = kept_files(resolve(location, workspace_id, definition.get("sources", [])),
                       definition.get("transforms", []))
    mount = spec["mode"] == "mount"
    copied = place_files(files, target, link_local=mount)
    verb = "linked local files and copied" if mount else "downloaded"
    say(f"Input {spec['name']}: {verb} {copied} file(s) into {target}.")
    return str(target)


def upload_outputs(location: Any, workspace_id: str, uploads: Sequence[Mapping[str, Any]],
                   say: Callable[[str], None]) -> None:
    """Copy each ``upload`` reference's folder to its datastore path."""
    from plinth._data.filesystems import open_datastore
    from plinth._data.transfer import upload

    for spec in uploads:
        record = location.store().get_datastore(workspace_id, spec["datastore"])
        files = open_datastore(location, record)
        local = Path(spec["local"])
        prefix = spec["path"]
        pairs = [(p, f"{prefix}/{p.relative_to(local).as_posix()}" if prefix
                  else p.relative_to(local).as_posix())
                 for p in sorted(local.rglob("*")) if p.is_file()]
        result = upload(files, pairs, overwrite=bool(spec.get("overwrite")), show_progress=False)
        say(f"Output {spec['name']}: uploaded {len(result.copied)} file(s) to "
            f"{files.uri}/{prefix}" + (f", skipped {len(result.skipped)} that existed"
                                       if result.skipped else "") + ".")


def read_input_datasets() -> dict[str, dict[str, Any]]:
    """Inside a run: its dataset inputs, as the worker described them."""
    raw = os.environ.get(ENV_INPUT_DATASETS)
    return json.loads(raw) if raw else {}
