"""``Dataset``: create datasets (``Dataset.Tabular``, ``Dataset.File``) and get registered
ones by name, version or id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plinth.data.abstract_dataset import AbstractDataset
from plinth.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
from plinth.exceptions import NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace

__all__ = ["Dataset"]


class Dataset:
    Tabular = TabularDatasetFactory
    File = FileDatasetFactory

    @staticmethod
    def get_by_name(workspace: "Workspace", name: str, version: int | str = "latest") -> Any:
        """A registered dataset: its latest version, or ``version``."""
        if version != "latest" and (isinstance(version, bool) or not str(version).isdigit()):
            raise UserErrorException(f"version must be 'latest' or a number, got {version!r}.")
        number = None if version == "latest" else int(version)
        try:
            record = workspace._store.get_dataset(workspace._id, name, number)
        except NotFoundError:
            which = "any version" if number is None else f"version {number}"
            raise NotFoundError(
                f"No dataset named {name!r} ({which}) in workspace {workspace.name!r}; "
                "register one with dataset.register(ws, name)."
            ) from None
        return AbstractDataset._from_record(workspace, record)

    @staticmethod
    def get_by_id(workspace: "Workspace", id: str) -> Any:
        """Any saved dataset version, registered or not, by its id."""
        record = workspace._store.get_dataset_by_id(workspace._id, id)
        return AbstractDataset._from_record(workspace, record)

    @staticmethod
    def get_all(workspace: "Workspace") -> dict[str, Any]:
        """The latest version of every registered dataset, by name."""
        latest: dict[str, Any] = {}
        for record in workspace._store.list_datasets(workspace._id):
            if record.name not in latest:
                latest[record.name] = AbstractDataset._from_record(workspace, record)
        return latest
