"""``AbstractDataset``: what tabular and file datasets share: sources, registration,
versions, lineage and use in runs."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plinth._store import DatasetRecord
from plinth.exceptions import AlreadyExistsError, NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace
    from plinth.data.dataset_consumption_config import DatasetConsumptionConfig

__all__ = ["AbstractDataset", "sources_from_path"]


class AbstractDataset:
    """A lazily evaluated definition: where the data is, how to read it, and the
    transformations to apply. Nothing is read until you ask for data."""

    _kind = ""

    def __init__(self) -> None:
        raise UserErrorException(
            "Create datasets with Dataset.Tabular.from_*() or Dataset.File.from_files(), or "
            "get a registered one with Dataset.get_by_name(ws, name)."
        )

    @classmethod
    def _create(cls, workspace: "Workspace | None", definition: Mapping[str, Any],
                record: DatasetRecord | None = None) -> Any:
        dataset = object.__new__(cls)
        dataset._workspace = workspace
        dataset._definition = copy.deepcopy(dict(definition))
        dataset._record = record
        return dataset

    @staticmethod
    def _from_record(workspace: "Workspace", record: DatasetRecord) -> Any:
        from plinth.data.file_dataset import FileDataset
        from plinth.data.tabular_dataset import TabularDataset

        cls = TabularDataset if record.kind == "tabular" else FileDataset
        return cls._create(workspace, record.definition, record)

    def _derive(self, op: Mapping[str, Any]) -> Any:
        """A new, unregistered dataset: this one plus one more transformation."""
        definition = copy.deepcopy(self._definition)
        definition.setdefault("transforms", []).append(dict(op))
        return type(self)._create(self._workspace, definition)

    # -- identity --------------------------------------------------------------------------

    name = property(lambda self: self._record.name if self._record else None)
    version = property(lambda self: self._record.version if self._record else None)
    id = property(lambda self: self._record.id if self._record else None)
    description = property(lambda self: self._record.description if self._record else None)
    tags = property(lambda self: dict(self._record.tags) if self._record else {})
    workspace = property(lambda self: self._workspace)

    @property
    def definition(self) -> dict[str, Any]:
        """Sources, format and transformations, as stored with each version."""
        return copy.deepcopy(self._definition)

    @property
    def data_changed_time(self) -> datetime | None:
        return (datetime.fromtimestamp(self._record.created_at, tz=UTC)
                if self._record else None)

    # -- transformations shared by tabular and file datasets (each returns a new,
    # unregistered dataset; rows for a tabular one, files for a file one) ----------------------

    def take(self, count: int) -> Any:
        return self._derive({"op": "take", "n": _count(count, "count")})

    def skip(self, count: int) -> Any:
        return self._derive({"op": "skip", "n": _count(count, "count")})

    def take_sample(self, probability: float, seed: int | None = None) -> Any:
        return self._derive({"op": "take_sample", "probability": _fraction(probability),
                             "seed": seed})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple[Any, Any]:
        """Two datasets: about ``percentage`` of the rows (or files), and the rest; they
        never overlap."""
        if seed is None:
            import random

            seed = random.randrange(2**31)
        share = _fraction(percentage, "percentage")
        first, second = (self._derive({"op": "random_split", "percentage": share, "seed": seed,
                                       "part": part}) for part in (0, 1))
        return first, second

    # -- registry --------------------------------------------------------------------------

    def register(self, workspace: "Workspace", name: str, description: str | None = None,
                 tags: Mapping[str, Any] | None = None, create_new_version: bool = False,
                 snapshot: bool = False) -> Any:
        """Register this definition as the next version of ``name``.

        An identical definition already registered under ``name`` is returned as it is;
        another one needs ``create_new_version=True``. ``snapshot=True`` first copies the
        data into content-addressed storage, so this version can never change.
        """
        from plinth._data import resolve

        self._check_workspace(workspace)
        store = workspace._store
        try:
            latest = store.get_dataset(workspace._id, name)
        except NotFoundError:
            latest = None
        if latest is not None and not create_new_version:
            if latest.definition == self._definition and not snapshot:
                return AbstractDataset._from_record(workspace, latest)
            raise AlreadyExistsError(
                f"A dataset named {name!r} is already registered (version {latest.version}) "
                "with another definition; pass create_new_version=True to register it as "
                f"version {latest.version + 1}, or choose another name."
            )
        definition = copy.deepcopy(self._definition)
        files = resolve.resolve(workspace._location, workspace._id, definition.get("sources", []))
        if snapshot:
            default = workspace._store.get_datastore(workspace._id, "workspaceblobstore")
            from plinth._data.filesystems import open_datastore

            definition["sources"] = resolve.snapshot_sources(
                files, open_datastore(workspace._location, default), default.name)
            files = resolve.resolve(workspace._location, workspace._id, definition["sources"])
        record = store.create_dataset(
            workspace._id, name, kind=self._kind, definition=definition,
            fingerprint=resolve.fingerprint(files), description=description,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            create_new_version=create_new_version,
        )
        return AbstractDataset._from_record(workspace, record)

    def _ensure_saved(self, workspace: "Workspace") -> DatasetRecord:
        """This dataset's record, saving it unregistered (for lineage) when it has none."""
        if self._record is not None and self._workspace == workspace:
            return self._record
        from plinth._data import resolve

        self._check_workspace(workspace)
        files = resolve.resolve(workspace._location, workspace._id,
                                self._definition.get("sources", []), must_match=False)
        self._record = workspace._store.create_dataset(
            workspace._id, None, kind=self._kind, definition=self._definition,
            fingerprint=resolve.fingerprint(files))
        self._workspace = workspace
        return self._record

    def _check_workspace(self, workspace: "Workspace") -> None:
        if self._workspace is not None and self._workspace != workspace:
            raise UserErrorException(
                f"This dataset reads datastores of workspace {self._workspace.name!r}; "
                f"register it there, not in {workspace.name!r}."
            )

    def update(self, description: str | None = None, tags: Mapping[str, Any] | None = None
               ) -> Any:
        """Change a registered version's description and/or tags."""
        record = self._registered("update")
        ws = self._workspace
        self._record = ws._store.update_dataset(
            ws._id, record.name, record.version, description=description,
            tags=None if tags is None else {str(k): str(v) for k, v in tags.items()})
        return self

    def add_tags(self, tags: Mapping[str, Any]) -> Any:
        return self.update(tags={**self.tags, **tags})

    def unregister_all_versions(self) -> None:
        """Unregister every version of this dataset's name. Runs and models that used one
        keep their lineage to it."""
        record = self._registered("unregister_all_versions")
        self._workspace._store.unregister_dataset(self._workspace._id, record.name)

    def _registered(self, what: str) -> DatasetRecord:
        if self._record is None or self._record.name is None:
            raise UserErrorException(f"{what}() needs a registered dataset; register() it first.")
        return self._record

    # -- lineage ---------------------------------------------------------------------------

    def get_runs(self) -> list[Any]:
        """The runs that consumed (or produced) this dataset version."""
        from plinth.core.run import Run

        if self._record is None:
            return []
        ws = self._workspace
        rows = ws._store.list_run_datasets(dataset_id=self._record.id)
        return [Run.get(ws, run_id) for run_id in dict.fromkeys(r.run_id for r in rows)]

    # -- use in runs -----------------------------------------------------------------------

    def as_named_input(self, name: str) -> "DatasetConsumptionConfig":
        """This dataset as the run input ``name`` (``run.input_datasets[name]``)."""
        from plinth.data.dataset_consumption_config import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def _input_spec(self) -> dict[str, Any]:
        """Passed straight as an argument: a direct input named after the dataset."""
        import hashlib
        import json

        label = self.name or hashlib.sha256(
            json.dumps(self._definition, sort_keys=True).encode()).hexdigest()[:8]
        safe = "".join(c if c.isalnum() else "_" for c in label)
        return self.as_named_input(f"dataset_{safe}")._input_spec()

    # -- reading ---------------------------------------------------------------------------

    def _resolved(self) -> list[Any]:
        """The files this dataset names now, warning when a registered version's changed."""
        from plinth._data import resolve

        location = self._workspace._location if self._workspace else None
        ws_id = self._workspace._id if self._workspace else ""
        files = resolve.resolve(location, ws_id, self._definition.get("sources", []))
        if self._record is not None and self._record.name:
            resolve.check_fingerprint(self._record.fingerprint, files,
                                      f"dataset {self.name!r} version {self.version}")
        return files

    def _transforms(self) -> list[dict[str, Any]]:
        return list(self._definition.get("transforms", []))

    def __repr__(self) -> str:
        label = (f"name={self.name!r}, version={self.version}" if self.name
                 else f"sources={self._definition.get('sources')}")
        return f"{type(self).__name__}({label})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AbstractDataset) and type(other) is type(self)
                and other._definition == self._definition and other.id == self.id)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))


def sources_from_path(path: Any, argument: str = "path") -> tuple[Any, list[dict[str, Any]]]:
    """``(workspace, sources)`` from what azureml's factories accept: a (datastore, path)
    tuple, a DataPath, a URL or local path, or a list of these."""
    from plinth.core.datastore import Datastore
    from plinth.data.datapath import DataPath

    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException(f"{argument} is empty; give at least one path.")
    workspace = None
    sources = []
    for item in items:
        if isinstance(item, DataPath):
            item = item._source()
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Datastore):
            datastore, pattern = item
            if workspace is not None and datastore.workspace != workspace:
                raise UserErrorException(f"{argument}: every datastore must be of one workspace.")
            workspace = datastore.workspace
            sources.append({"datastore": datastore.name,
                            "path": str(pattern).replace("\\", "/").strip("/")})
        elif isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if "://" not in text:
                text = os.path.abspath(os.path.expanduser(text))
            sources.append({"url": text})
        else:
            raise UserErrorException(
                f"{argument}={item!r} is not a path: pass (datastore, 'folder/*.csv'), a "
                "DataPath, a URL or a local path, or a list of them."
            )
    return workspace, sources


def _names(values: Sequence[str] | str, argument: str) -> list[str]:
    names = [values] if isinstance(values, str) else list(values)
    if not names or not all(isinstance(n, str) for n in names):
        raise UserErrorException(f"{argument} must be a column name or a list of them.")
    return names


def _count(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserErrorException(f"{argument} must be a whole number >= 0, got {value!r}.")
    return value


def _fraction(value: Any, argument: str = "probability") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise UserErrorException(f"{argument} must be between 0 and 1, got {value!r}.")
    return float(value)
