"""Datastores, datasets and run lineage. Readers may read; writes need Contributor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from plinth._api import (
    AddRunDatasetsRequest,
    CreateDatasetRequest,
    CreateDatastoreRequest,
    Page,
    UpdateDatasetRequest,
)
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store.base import DatasetRecord, DatastoreRecord, RunDatasetRecord

router = APIRouter(tags=["data"])

DATASTORES = "/workspaces/{workspace}/datastores"
DATASTORE = f"{DATASTORES}/{{name}}"
DATASETS = "/workspaces/{workspace}/datasets"
VERSION = f"{DATASETS}/{{name}}/versions/{{version}}"
DATASET_ID = "/workspaces/{workspace}/dataset-ids/{dataset_id}"
RUN_DATASETS = "/workspaces/{workspace}/runs/{run_id}/datasets"

Name = Annotated[str, Path(min_length=1, max_length=255)]
Version = Annotated[str, Path(pattern=r"^(latest|[0-9]{1,9})$")]


def _version(version: str) -> int | None:
    return None if version == "latest" else int(version)


# -- datastores -----------------------------------------------------------------------------


@router.get(DATASTORES, dependencies=[Depends(reader)])
def list_datastores(workspace: WorkspaceName, state: State, max_results: MaxResults = 1000,
                    page_token: PageToken = None) -> Page[DatastoreRecord]:
    items = state.store.list_datastores(state.workspace(workspace).id)
    return paginate(items, max_results, page_token)


@router.get(DATASTORE, dependencies=[Depends(reader)])
def get_datastore(workspace: WorkspaceName, name: Name, state: State) -> DatastoreRecord:
    return state.store.get_datastore(state.workspace(workspace).id, name)


@router.put(DATASTORE, dependencies=[Depends(contributor)])
def create_datastore(workspace: WorkspaceName, name: Name, body: CreateDatastoreRequest,
                     state: State) -> DatastoreRecord:
    """Register the datastore; 409 when it exists, unless ``overwrite``."""
    return state.store.create_datastore(state.workspace(workspace).id, name,
                                        **body.model_dump())


@router.delete(DATASTORE, status_code=204, dependencies=[Depends(contributor)])
def delete_datastore(workspace: WorkspaceName, name: Name, state: State) -> None:
    state.store.delete_datastore(state.workspace(workspace).id, name)


@router.put(f"{DATASTORE}/default", dependencies=[Depends(contributor)])
def set_default_datastore(workspace: WorkspaceName, name: Name,
                          state: State) -> DatastoreRecord:
    return state.store.set_default_datastore(state.workspace(workspace).id, name)


@router.get("/workspaces/{workspace}/default-datastore", dependencies=[Depends(reader)])
def get_default_datastore(workspace: WorkspaceName, state: State) -> DatastoreRecord:
    return state.store.get_default_datastore(state.workspace(workspace).id)


# -- datasets -------------------------------------------------------------------------------


@router.get(DATASETS, dependencies=[Depends(reader)])
def list_datasets(workspace: WorkspaceName, state: State, name: str | None = None,
                  max_results: MaxResults = 1000,
                  page_token: PageToken = None) -> Page[DatasetRecord]:
    items = state.store.list_datasets(state.workspace(workspace).id, name)
    return paginate(items, max_results, page_token)


@router.post(DATASETS, status_code=201, dependencies=[Depends(contributor)])
def create_dataset(workspace: WorkspaceName, body: CreateDatasetRequest,
                   state: State) -> DatasetRecord:
    fields = body.model_dump()
    return state.store.create_dataset(state.workspace(workspace).id, fields.pop("name"),
                                      **fields)


@router.get(VERSION, dependencies=[Depends(reader)])
def get_dataset(workspace: WorkspaceName, name: Name, version: Version,
                state: State) -> DatasetRecord:
    return state.store.get_dataset(state.workspace(workspace).id, name, _version(version))


@router.patch(VERSION, dependencies=[Depends(contributor)])
def update_dataset(workspace: WorkspaceName, name: Name, version: Version,
                   body: UpdateDatasetRequest, state: State) -> DatasetRecord:
    ws = state.workspace(workspace)
    record = state.store.get_dataset(ws.id, name, _version(version))
    return state.store.update_dataset(ws.id, name, record.version, **body.model_dump())


@router.delete(f"{DATASETS}/{{name}}", status_code=204, dependencies=[Depends(contributor)])
def unregister_dataset(workspace: WorkspaceName, name: Name, state: State) -> None:
    """Unregister every version of ``name``; they stay readable by id."""
    state.store.unregister_dataset(state.workspace(workspace).id, name)


@router.get(DATASET_ID, dependencies=[Depends(reader)])
def get_dataset_by_id(workspace: WorkspaceName, dataset_id: Name,
                      state: State) -> DatasetRecord:
    return state.store.get_dataset_by_id(state.workspace(workspace).id, dataset_id)


# -- lineage --------------------------------------------------------------------------------


@router.get(f"{DATASET_ID}/runs", dependencies=[Depends(reader)])
def list_dataset_runs(workspace: WorkspaceName, dataset_id: Name, state: State,
                      max_results: MaxResults = 1000,
                      page_token: PageToken = None) -> Page[RunDatasetRecord]:
    """Which runs used the dataset, oldest first."""
    state.store.get_dataset_by_id(state.workspace(workspace).id, dataset_id)
    items = state.store.list_run_datasets(dataset_id=dataset_id)
    return paginate(items, max_results, page_token)


@router.get(RUN_DATASETS, dependencies=[Depends(reader)])
def list_run_datasets(workspace: WorkspaceName, run_id: str, state: State,
                      dataset_id: str | None = None, max_results: MaxResults = 1000,
                      page_token: PageToken = None) -> Page[RunDatasetRecord]:
    state.run_in(state.workspace(workspace), run_id)
    items = state.store.list_run_datasets(run_id=run_id, dataset_id=dataset_id)
    return paginate(items, max_results, page_token)


@router.post(RUN_DATASETS, status_code=204, dependencies=[Depends(contributor)])
def add_run_datasets(workspace: WorkspaceName, run_id: str, body: AddRunDatasetsRequest,
                     state: State) -> None:
    """Record datasets the run used (of its own workspace); repeating a row is a no-op."""
    state.run_in(state.workspace(workspace), run_id)
    state.store.add_run_datasets(run_id, [e.model_dump() for e in body.entries])
