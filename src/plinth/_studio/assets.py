"""Models, datasets, datastores, environments, compute, pipelines, endpoints.

The pages read the server's store as the REST routes do (``page.store``, the same ``list_`` and
``get_`` methods). What the SDK reads beyond records (a dataset's rows and profile, a model's
files, a service's state, logs and keys) is read with the SDK's own code, on the workspace as
the server reaches it (``ServerState.location``), so the Studio shows what a client would see.

Every route needs the Reader role on the workspace: Readers see everything and change nothing.
Service keys are shown to Owners only; the endpoint test console (``POST .../test``) forwards a
request to the service from the server, adding the key or token there, so a key never reaches
a Reader's browser.
"""

from __future__ import annotations

import io
import json
import re
import time
import warnings
import zipfile
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from plinth._api import API_PREFIX
from plinth._server.auth import reader
from plinth._store import (
    DatasetRecord,
    EnvironmentRecord,
    ModelRecord,
    RunRecord,
    ServiceRecord,
)
from plinth._studio.common import Page, page_context, render, templates
from plinth.exceptions import NotFoundError, ValidationError

__all__ = ["router"]

router = APIRouter()

WS = "/w/{workspace}"
READER = [Depends(reader)]

PREVIEW_ROWS = 20
PREVIEW_FILES = 50
LOG_LINES = 200
#: How long the test console waits for a service's answer.
TEST_TIMEOUT = 30.0
#: How long a page waits for a service's swagger document (for a sample request).
SWAGGER_TIMEOUT = 2.0
_CHUNK = 1 << 20
_SECRET_LIKE = re.compile(r"key|secret|password|token|sas|credential|connection_string", re.I)

VersionArg = Annotated[str, Path(pattern=r"^(latest|[0-9]{1,9})$")]


# -- shared ----------------------------------------------------------------------------------


def _sdk_workspace(page: Page) -> Any:
    """The SDK's ``Workspace`` on the workspace as this server reaches it (its database and
    artifact root), for reading what the SDK reads beyond records."""
    from plinth.core.workspace import Workspace

    return Workspace(_location=page.state.location(page.workspace.name))


def _version_arg(value: str | None) -> int | None:
    """``?version=N`` (None, '' or 'latest': the latest)."""
    if value is None or value.strip() in ("", "latest"):
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise ValidationError(f"version={value!r} is not a version number (1, 2, ...).")
    return int(value)


def _problem(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) < 4000 else text[:4000] + " ..."


def _workspace_runs(page: Page) -> list[RunRecord]:
    """Every run of the workspace (archived experiments too), newest first."""
    runs: list[RunRecord] = []
    for experiment in page.store.list_experiments(page.workspace.id, include_archived=True):
        runs += page.store.list_runs(experiment_id=experiment.id)
    runs.sort(key=lambda r: r.created_at, reverse=True)
    return runs


def _run_or_none(page: Page, run_id: str | None) -> RunRecord | None:
    if not run_id:
        return None
    try:
        return page.state.run_in(page.workspace, run_id)
    except NotFoundError:
        return None


def _latest_by_name(records: list[Any]) -> list[dict[str, Any]]:
    """``[{"latest": record, "count": n}]`` by name, for records with ``name``/``version``."""
    groups: dict[str, list[Any]] = {}
    for record in records:
        groups.setdefault(record.name, []).append(record)
    return [{"latest": max(group, key=lambda r: r.version), "count": len(group)}
            for _, group in sorted(groups.items(), key=lambda item: item[0].lower())]


# -- models ----------------------------------------------------------------------------------


@router.get(WS + "/models", dependencies=READER)
def models_page(request: Request, workspace: str) -> Response:
    page = page_context(request, workspace)
    rows = _latest_by_name(page.store.list_models(page.workspace.id))
    return render(page, "models.html", models=rows)


@router.get(WS + "/models/{name}", dependencies=READER)
def model_page(request: Request, workspace: str, name: str) -> Response:
    page = page_context(request, workspace)
    versions = sorted(page.store.list_models(page.workspace.id, name),
                      key=lambda m: m.version, reverse=True)
    if not versions:
        raise NotFoundError(f"No model named {name!r} in workspace {workspace!r}.")
    lineage = {m.version: _model_lineage(page, m) for m in versions}
    services = []
    for service in page.store.list_services(page.workspace.id):
        used = [m for m in service.models if m.rpartition(":")[0] == name]
        if used:
            services.append({"name": service.name, "models": used})
    return render(page, "model.html", name=name, versions=versions, lineage=lineage,
                  services=services)


def _model_lineage(page: Page, model: ModelRecord) -> dict[str, Any]:
    """The run that produced the model, and the datasets that trained it: those it was
    registered with, else the input datasets its run recorded."""
    run = _run_or_none(page, model.run_id)
    datasets: list[dict[str, Any]] = []
    for ref in model.datasets:
        entry = {"scenario": ref.get("scenario") or "training", "name": ref.get("name"),
                 "version": ref.get("version"), "id": ref.get("id"), "source": "model"}
        if entry["version"] is None and entry["id"]:
            entry.update(_dataset_identity(page, entry["id"]) or {})
        datasets.append(entry)
    if not datasets and model.run_id:
        for row in page.store.list_run_datasets(run_id=model.run_id):
            if row.direction != "input":
                continue
            entry = {"scenario": row.name, "name": None, "version": None, "id": row.dataset_id,
                     "source": "run", "mode": row.mode}
            entry.update(_dataset_identity(page, row.dataset_id) or {})
            datasets.append(entry)
    return {"run_id": model.run_id, "run": run, "experiment": model.experiment_name,
            "datasets": datasets}


def _dataset_identity(page: Page, dataset_id: str) -> dict[str, Any] | None:
    """The registered name and version of a saved dataset (None for an unregistered one)."""
    try:
        record = page.store.get_dataset_by_id(page.workspace.id, dataset_id)
    except NotFoundError:
        return None
    if record.name is None or record.version is None:
        return {"kind": record.kind}
    return {"name": record.name, "version": record.version, "kind": record.kind}


@router.get(WS + "/models/{name}/{version}/download", dependencies=READER)
def download_model(request: Request, workspace: str, name: str,
                   version: VersionArg) -> Response:
    """The version's files: a single file as it is, a folder as a zip made on the fly."""
    page = page_context(request, workspace)
    record = page.store.get_model(page.workspace.id, name,
                                  None if version == "latest" else int(version))
    arts = page.state.artifacts(workspace)
    stored = record.path
    names = arts.list(stored)
    if not names:
        raise NotFoundError(f"The files of model {record.id} are missing from storage.")
    base = stored.rsplit("/", 1)[-1]
    if names == [stored] and not arts.isdir(stored):
        source = arts.open(stored)

        def chunks() -> Iterator[bytes]:
            with source:
                while chunk := source.read(_CHUNK):
                    yield chunk

        headers = {"Content-Disposition": _attachment(base),
                   "Content-Length": str(arts.size(stored))}
        return StreamingResponse(chunks(), media_type="application/octet-stream",
                                 headers=headers)
    archive = f"{name}-{record.version}.zip"
    return StreamingResponse(_zip_stream(arts, names, stored, base),
                             media_type="application/zip",
                             headers={"Content-Disposition": _attachment(archive)})


def _attachment(filename: str) -> str:
    plain = re.sub(r'[^A-Za-z0-9._-]', "_", filename) or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come (zipfile writes a data
    descriptor after each member on such an unseekable stream)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            yield data


def _zip_stream(arts: Any, names: list[str], prefix: str, root: str) -> Iterator[bytes]:
    """A zip of ``names`` (files under ``prefix``), as ``root/<relative path>``, in chunks:
    never the whole archive in memory."""
    sink = _Sink()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            rel = name[len(prefix):].lstrip("/")
            info = zipfile.ZipInfo(f"{root}/{rel}" if rel else root, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = arts.size(name)  # so zipfile knows when a member needs zip64
            with arts.open(name) as source, archive.open(info, "w") as target:
                while chunk := source.read(_CHUNK):
                    target.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()


# -- datasets --------------------------------------------------------------------------------


@router.get(WS + "/datasets", dependencies=READER)
def datasets_page(request: Request, workspace: str) -> Response:
    page = page_context(request, workspace)
    rows = _latest_by_name(page.store.list_datasets(page.workspace.id))
    return render(page, "datasets.html", datasets=rows)


@router.get(WS + "/datasets/{name}", dependencies=READER)
def dataset_page(request: Request, workspace: str, name: str,
                 version: str | None = None) -> Response:
    page = page_context(request, workspace)
    record = page.store.get_dataset(page.workspace.id, name, _version_arg(version))
    versions = page.store.list_datasets(page.workspace.id, name)
    used_by = []
    for row in page.store.list_run_datasets(dataset_id=record.id):
        used_by.append({"row": row, "run": _run_or_none(page, row.run_id)})
    run_ids = {entry["row"].run_id for entry in used_by if entry["row"].direction == "input"}
    models = [m for m in page.store.list_models(page.workspace.id)
              if any(d.get("id") == record.id for d in m.datasets)
              or (not m.datasets and m.run_id in run_ids)]
    return render(page, "dataset.html", record=record, versions=versions,
                  preview=_preview(page, record), used_by=used_by, models=models,
                  sources=_describe_sources(record.definition))


def _sdk_dataset(page: Page, record: DatasetRecord) -> Any:
    from plinth.data.abstract_dataset import AbstractDataset

    return AbstractDataset._from_record(_sdk_workspace(page), record)


def _preview(page: Page, record: DatasetRecord) -> dict[str, Any]:
    """The first rows (tabular) or file paths (file) as ``take(n)`` reads them; problems
    (unreachable files, a changed version) become messages, never a failed page."""
    out: dict[str, Any] = {"columns": [], "rows": [], "files": [], "error": None,
                           "warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = _sdk_dataset(page, record)
            if record.kind == "tabular":
                frame = dataset.take(PREVIEW_ROWS).to_pandas_dataframe()
                out["columns"] = [str(c) for c in frame.columns]
                out["rows"] = [[_cell(v) for v in row]
                               for row in frame.itertuples(index=False, name=None)]
            else:
                out["files"] = dataset.take(PREVIEW_FILES).to_path()
        except Exception as error:  # noqa: BLE001 - shown on the page
            out["error"] = _problem(error)
    out["warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
    return out


def _cell(value: Any) -> str:
    """A preview value as the data holds it (no rounding); '' for a missing one."""
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _describe_sources(definition: dict[str, Any]) -> list[str]:
    """Where the dataset's data is, one line a source (a snapshot's file list is counted)."""
    lines = []
    for source in definition.get("sources") or []:
        if not isinstance(source, dict):
            lines.append(str(source))
        elif "files" in source:
            lines.append(f"{source.get('datastore')}: {len(source['files'] or [])} "
                         "snapshotted file(s)")
        elif "datastore" in source:
            lines.append(f"{source['datastore']}: {source.get('path', '')}")
        elif "url" in source:
            from plinth.cli.data import _without_userinfo

            lines.append(_without_userinfo(str(source["url"])))
        else:
            lines.append(json.dumps(source, default=str))
    return lines


@router.get(WS + "/datasets/{name}/profile", dependencies=READER)
def dataset_profile(request: Request, workspace: str, name: str,
                    version: str | None = None) -> Response:
    """The profile table (a fragment the dataset page loads): what ``plinth dataset
    profile`` computes, ``TabularDataset.get_profile()``."""
    page = page_context(request, workspace)
    record = page.store.get_dataset(page.workspace.id, name, _version_arg(version))
    profile, error = None, None
    if record.kind == "tabular":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                profile = _sdk_dataset(page, record).get_profile()
            except Exception as exc:  # noqa: BLE001 - shown in the fragment
                error = _problem(exc)
    return templates.TemplateResponse(request, "asset_profile.html", {
        "page": page, "record": record, "profile": profile, "error": error,
        "columns": ("type", "count", "missing", "distinct", "min", "max", "mean", "std")})


# -- datastores ------------------------------------------------------------------------------


@router.get(WS + "/datastores", dependencies=READER)
def datastores_page(request: Request, workspace: str) -> Response:
    """Where each datastore's files are, its settings and which of them are credentials
    (their names only: the values stay in the key vault)."""
    from plinth.cli.data import _where, _without_userinfo
    from plinth.core.datastore import Datastore

    page = page_context(request, workspace)
    sdk = _sdk_workspace(page)
    rows = []
    for record in page.store.list_datastores(page.workspace.id):
        try:
            where = _where(sdk, Datastore._from_record(sdk, record))
        except Exception:  # noqa: BLE001 - an odd config still lists
            where = "-"
        builtin = bool(record.config.get("builtin"))
        settings = {k: (_without_userinfo(v) if isinstance(v, str) else v)
                    for k, v in record.config.items()
                    if v is not None and k != "builtin" and not (builtin and k == "prefix")
                    and not _SECRET_LIKE.search(k) and k not in record.secrets}
        rows.append({"record": record, "where": where, "settings": settings,
                     "credentials": sorted(record.secrets), "builtin": builtin})
    return render(page, "datastores.html", datastores=rows)


# -- environments ----------------------------------------------------------------------------


@router.get(WS + "/environments", dependencies=READER)
def environments_page(request: Request, workspace: str) -> Response:
    from plinth.core._curated_environments import CURATED

    page = page_context(request, workspace)
    rows = _latest_by_name(page.store.list_environments(page.workspace.id))
    registered = {row["latest"].name for row in rows}
    curated = [definition for name, definition in CURATED.items() if name not in registered]
    return render(page, "environments.html", environments=rows, curated=curated)


@router.get(WS + "/environments/{name}", dependencies=READER)
def environment_page(request: Request, workspace: str, name: str,
                     version: str | None = None) -> Response:
    """A version's spec, whether this server has built it, and the build log of the newest
    run that used it. Curated environments show as ``Environment.get`` gives them."""
    from plinth.core._curated_environments import CURATED

    page = page_context(request, workspace)
    wanted = _version_arg(version)
    try:
        record = page.store.get_environment(page.workspace.id, name, wanted)
        versions = page.store.list_environments(page.workspace.id, name)
        curated = False
    except NotFoundError:
        if name not in CURATED or wanted not in (None, 1):
            raise
        record = EnvironmentRecord(page.workspace.id, name, 1, "", 0.0,
                                   {k: v for k, v in CURATED[name].items() if k != "name"})
        versions, curated = [record], True
    definition = record.definition or {}
    python = definition.get("python") if isinstance(definition.get("python"), dict) else {}
    run, log = _environment_log(page, record)
    return render(page, "environment.html", record=record, versions=versions,
                  curated=curated, python=python or {},
                  docker=definition.get("docker") or {},
                  variables=definition.get("environment_variables") or {},
                  definition_json=json.dumps(definition, indent=2, default=str),
                  build=_build_status(definition), log_run=run, log=log)


def _build_status(definition: dict[str, Any]) -> dict[str, Any]:
    """Whether this server has the environment: the builder's cache folder for its spec
    (``plinth._envs.builder``), Plinth's own Python when that already satisfies it, or a
    user-managed interpreter."""
    from plinth._envs import builder, spec

    try:
        python = spec.python_section(definition)
        if python.get("user_managed"):
            path = python.get("interpreter_path") or "python"
            return {"state": "UserManaged", "text": f"User-managed: runs use {path} as it is."}
        build, _, warning = spec.resolve(definition)
        out: dict[str, Any] = {"spec": build, "warning": warning}
        if spec.satisfied_here(build):
            return {**out, "state": "Ready",
                    "text": "This server's own Python already has every package; no build "
                            "is needed."}
        folder = builder.cache_root() / spec.digest(build)[:20]
        if (folder / builder.READY).is_file():
            built = (folder / builder.READY).read_text().strip()
            return {**out, "state": "Built", "built": built, "folder": str(folder),
                    "text": f"Built on this server ({built})."}
        return {**out, "state": "NotBuilt",
                "text": "Not built on this server yet: the first run that uses it builds it "
                        "(or Environment.build_local())."}
    except Exception as error:  # noqa: BLE001 - a bad definition is shown, not a 500
        return {"state": "Invalid", "text": f"Cannot be built: {_problem(error)}"}


def _environment_log(page: Page, record: EnvironmentRecord) -> tuple[RunRecord | None, str]:
    """The newest run of this environment version and the tail of its build log
    (``logs/environment.log``)."""
    from plinth._envs import ENVIRONMENT_LOG

    for run in _workspace_runs(page):
        used = (run.definition or {}).get("environment")
        if not isinstance(used, dict) or used.get("name") != record.name:
            continue
        if used.get("version") not in (None, str(record.version)):
            continue
        name = f"runs/{run.id}/{ENVIRONMENT_LOG}"
        arts = page.state.artifacts(page.workspace.name)
        try:
            text = arts.read_bytes(name).decode("utf-8", "replace") if arts.exists(name) else ""
        except Exception:  # noqa: BLE001 - a log that cannot be read is left out
            text = ""
        return run, "\n".join(text.splitlines()[-LOG_LINES:])
    return None, ""


# -- compute ---------------------------------------------------------------------------------


@router.get(WS + "/compute", dependencies=READER)
def compute_page(request: Request, workspace: str) -> Response:
    """Each target's nodes: busy (its Running runs), idle (the rest of ``max_nodes``), and
    its Queued runs; from the active runs whose definition names the target."""
    page = page_context(request, workspace)
    computes = page.store.list_computes(page.workspace.id)
    usage: dict[str, dict[str, list[RunRecord]]] = {
        c.name: {"running": [], "queued": [], "other": []} for c in computes}
    for run in _workspace_runs(page):
        if not run.is_active:
            continue
        target = _target_of(run)
        if target not in usage:
            continue
        key = {"Running": "running", "Queued": "queued"}.get(run.status, "other")
        usage[target][key].append(run)
    rows = []
    for compute in computes:
        used = usage[compute.name]
        max_nodes = _int_or_none(compute.config.get("max_nodes"))
        busy = len(used["running"])
        rows.append({"record": compute, "busy": busy, "queued": len(used["queued"]),
                     "idle": None if max_nodes is None else max(max_nodes - busy, 0),
                     "max_nodes": max_nodes, "runs": used})
    return render(page, "compute.html", computes=rows)


def _target_of(run: RunRecord) -> str | None:
    definition = run.definition or {}
    compute = definition.get("compute")
    if isinstance(compute, dict) and compute.get("name"):
        return str(compute["name"])
    target = definition.get("target")
    return target if isinstance(target, str) else None


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


# -- pipelines -------------------------------------------------------------------------------


@router.get(WS + "/pipelines", dependencies=READER)
def pipelines_page(request: Request, workspace: str) -> Response:
    page = page_context(request, workspace)
    ws_id = page.workspace.id
    api = str(request.base_url).rstrip("/") + API_PREFIX + "/workspaces/" + quote(
        page.workspace.name, safe="")
    pipelines = page.store.list_published_pipelines(ws_id, active_only=False)
    names = {p.id: p for p in pipelines}
    endpoints = page.store.list_pipeline_endpoints(ws_id, active_only=False)
    now = time.time()
    schedules = []
    for record in page.store.list_schedules(ws_id, active_only=False):
        schedules.append({"record": record, "pipeline": names.get(record.pipeline_id),
                          "trigger": _trigger(record), "next": _next_fire(record, now),
                          "last_run": _run_or_none(page, record.last_run_id)})
    return render(page, "pipelines.html", pipelines=pipelines, endpoints=endpoints,
                  schedules=schedules, pipeline_names=names, api=api)


def _trigger(record: Any) -> str:
    from plinth._pipelines.recurrence import describe

    if record.recurrence is not None:
        try:
            return describe(record.recurrence)
        except Exception:  # noqa: BLE001 - an odd recurrence still lists
            return json.dumps(record.recurrence, default=str)
    where = f"{record.datastore}:{record.path_on_datastore or '/'}"
    return f"files changed in {where} (checked every {record.polling_interval:g} min)"


def _next_fire(record: Any, now: float) -> float | None:
    """When an Active schedule fires (or polls) next: its due time when still ahead, else
    the next one after now as the scheduler computes it
    (``plinth._pipelines.recurrence.next_fire_time``)."""
    from plinth._pipelines.recurrence import next_fire_time

    if record.status != "Active":
        return None
    if record.next_fire_at is not None and record.next_fire_at > now:
        return record.next_fire_at
    if record.recurrence is None:
        return record.next_fire_at if record.next_fire_at is not None else now
    try:
        return next_fire_time(record.recurrence, now, anchor=record.created_at)
    except Exception:  # noqa: BLE001 - an odd recurrence shows no time
        return None


# -- endpoints (web services) ----------------------------------------------------------------


@router.get(WS + "/endpoints", dependencies=READER)
def endpoints_page(request: Request, workspace: str) -> Response:
    page = page_context(request, workspace)
    location = page.state.location(workspace)
    services = [_observed(location, s) for s in page.store.list_services(page.workspace.id)]
    return render(page, "endpoints.html", services=services)


def _observed(location: Any, record: ServiceRecord) -> ServiceRecord:
    """The record with its state brought up to date, as ``Webservice.state`` does."""
    from plinth._serving import deploy

    try:
        return deploy.observe(location, record)
    except Exception:  # noqa: BLE001 - the stored state is still worth showing
        return record


def _webservice(page: Page, record: ServiceRecord) -> Any:
    from plinth.core.webservice.webservice import Webservice

    return Webservice._from_record(_sdk_workspace(page), record)


@router.get(WS + "/endpoints/{name}", dependencies=READER)
def endpoint_page(request: Request, workspace: str, name: str) -> Response:
    page = page_context(request, workspace)
    record = _observed(page.state.location(workspace),
                       page.store.get_service(page.workspace.id, name))
    service = _webservice(page, record)
    try:
        logs = service.get_logs(num_lines=LOG_LINES)
    except Exception as error:  # noqa: BLE001 - shown instead of the logs
        logs = f"(The logs could not be read: {_problem(error)})"
    keys, keys_error = None, None
    auth = ("token" if record.config.get("token_auth_enabled")
            else "key" if record.config.get("auth_enabled") else "none")
    if page.is_owner and auth == "key":
        try:
            keys = service.get_keys()
        except Exception as error:  # noqa: BLE001 - shown in the keys section
            keys_error = _problem(error)
    return render(page, "endpoint.html", record=record, auth=auth, logs=logs, keys=keys,
                  keys_error=keys_error, sample=_sample_request(record))


def _sample_request(record: ServiceRecord) -> str:
    """The swagger document's input example (inference-schema decorated ``run()``), else
    ``{"data": []}``."""
    fallback = '{"data": []}'
    if record.state != "Healthy" or not record.swagger_uri:
        return fallback
    import httpx

    try:
        document = httpx.get(record.swagger_uri, timeout=SWAGGER_TIMEOUT).json()
    except (httpx.HTTPError, ValueError):
        return fallback
    schemas = (document.get("definitions")
               or (document.get("components") or {}).get("schemas") or {})
    example = (schemas.get("ServiceInput") or {}).get("example")
    return fallback if example is None else json.dumps(example, indent=2, default=str)


@router.post(WS + "/endpoints/{name}/test", dependencies=READER)
async def test_endpoint(request: Request, workspace: str, name: str) -> Response:
    """Send the console's request to the service from the server (with the service's key or
    a token when its auth is on) and answer an HTML fragment: the HTTP status and the
    response. A test request changes nothing, so Readers may send one."""
    raw = await request.body()
    if "application/json" in request.headers.get("content-type", ""):
        body = raw.decode("utf-8", "replace")
    else:
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        body = (form.get("input") or [""])[0]
    result = await run_in_threadpool(_forward, request, workspace, name, body)
    return templates.TemplateResponse(request, "asset_test_result.html", result)


def _forward(request: Request, workspace: str, name: str, body: str) -> dict[str, Any]:
    import httpx

    page = page_context(request, workspace)
    out: dict[str, Any] = {"status": None, "reason": "", "output": "", "error": None,
                           "note": None, "elapsed_ms": None}
    try:
        record = page.store.get_service(page.workspace.id, name)
    except NotFoundError as error:
        return {**out, "error": _problem(error)}
    if not record.scoring_uri:
        return {**out, "error": f"Service {name!r} has no scoring URI yet (it is "
                                f"{record.state}); wait until it is deployed."}
    try:
        headers = {"Content-Type": "application/json",
                   **_webservice(page, record)._auth_header()}
    except Exception as error:  # noqa: BLE001 - e.g. the key vault is unreachable
        return {**out, "error": f"Could not get the service's credentials: {_problem(error)}"}
    started = time.monotonic()
    try:
        response = httpx.post(record.scoring_uri, content=body.encode(), headers=headers,
                              timeout=TEST_TIMEOUT)
    except httpx.TimeoutException:
        return {**out, "error": f"The service at {record.scoring_uri} did not answer within "
                                f"{TEST_TIMEOUT:g} s."}
    except httpx.ConnectError as error:
        return {**out, "error": f"Could not connect to the service at {record.scoring_uri} "
                                f"({_problem(error)}). It is {record.state}; see its logs."}
    except httpx.HTTPError as error:
        return {**out, "error": f"The request to {record.scoring_uri} failed: "
                                f"{_problem(error)}"}
    out["elapsed_ms"] = (time.monotonic() - started) * 1000
    out["status"], out["reason"] = response.status_code, response.reason_phrase
    out["output"], out["note"] = _pretty(response)
    return out


def _pretty(response: Any) -> tuple[str, str | None]:
    """The response body, pretty-printed when it is JSON (a JSON string that itself holds
    JSON, as a ``run()`` returning ``json.dumps(...)`` answers, is shown decoded)."""
    try:
        value = response.json()
    except ValueError:
        return response.text, None
    if isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            inner = None
        if isinstance(inner, (dict, list)):
            return (json.dumps(inner, indent=2, ensure_ascii=False),
                    "run() returned a JSON string; shown decoded.")
    return json.dumps(value, indent=2, ensure_ascii=False), None

