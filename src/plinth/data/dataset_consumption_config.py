"""``DatasetConsumptionConfig``: a dataset as a named input of a run, and how it arrives."""

from __future__ import annotations

from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["DatasetConsumptionConfig"]


class DatasetConsumptionConfig:
    """``dataset.as_named_input('name')``, optionally ``.as_download()`` or ``.as_mount()``.

    In the run, ``run.input_datasets[name]`` is the dataset itself (``direct``) or the local
    folder it was downloaded or mounted to; as a script argument it becomes the dataset's id
    (``direct``) or that folder."""

    def __init__(self, name: str, dataset: Any, mode: str = "direct",
                 path_on_compute: str | None = None):
        if not isinstance(name, str) or not name.isidentifier():
            raise UserErrorException(
                f"name={name!r} must be an identifier (letters, digits, '_'), e.g. 'training_data'."
            )
        if mode != "direct" and dataset._kind != "file":
            raise UserErrorException(
                f"as_{mode}() is for file datasets; a tabular dataset is passed directly and "
                "read in the run with run.input_datasets[name].to_pandas_dataframe()."
            )
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_download(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def _input_spec(self) -> dict[str, Any]:
        """What the run's worker needs (see plinth._execution.inputs). A dataset that was
        never saved travels as its definition and is saved when the run is submitted."""
        spec: dict[str, Any] = {"name": self.name, "kind": "dataset", "mode": self.mode,
                                "path_on_compute": self.path_on_compute,
                                "dataset_kind": self.dataset._kind}
        if self.dataset.id is not None:
            spec["dataset_id"] = self.dataset.id
        else:
            spec["dataset"] = {"kind": self.dataset._kind, "definition": self.dataset.definition}
        return spec

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"
