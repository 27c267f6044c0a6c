"""The pipelines part of ``SqlStore``: published pipelines, pipeline endpoints, schedules,
and the step results that let a pipeline reuse an earlier run of an unchanged step.

Tables ``published_pipelines``, ``pipeline_endpoints``, ``schedules`` and ``step_results``
(migration 0007); their rows go with their workspace (foreign keys ``ON DELETE CASCADE``).
The ``check_*`` and ``could_be_*`` functions are shared with ``RestStore``, so both raise the
same errors before any write.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row

from plinth._store.base import (
    PIPELINE_STATES,
    PipelineEndpointRecord,
    PublishedPipelineRecord,
    RunStatus,
    ScheduleRecord,
)
from plinth._store.checks import json_dict, optional_text
from plinth._store.schema import (
    experiments,
    pipeline_endpoints,
    published_pipelines,
    runs,
    schedules,
    step_results,
    workspaces,
)
from plinth._store.sql_data import check_datastore_name
from plinth.exceptions import AlreadyExistsError, NotFoundError, ValidationError

__all__ = [
    "SqlPipelines",
    "check_endpoint_args",
    "check_endpoint_key",
    "check_endpoint_update",
    "check_fingerprint",
    "check_pipeline_name",
    "check_pipeline_state",
    "check_published_pipeline_args",
    "check_schedule_args",
    "check_schedule_update",
    "check_step_run_id",
    "could_be_fingerprint",
    "could_be_pipeline_id",
]

_ACTIVE = "Active"
_MAX_NAME = 255
_FINGERPRINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,254}")
_RUN_ID = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_VERSION = re.compile(r"0|[1-9][0-9]{0,8}")


# -- argument checks --------------------------------------------------------------------------


def check_pipeline_name(name: Any, argument: str = "name") -> str:
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= _MAX_NAME
        or not name.strip()
        or not name.isprintable()
    ):
        raise ValidationError(
            f"{argument}={name!r} is not a valid name: use 1-255 printable characters, not "
            "all blank (e.g. 'training pipeline')."
        )
    return name


def check_pipeline_state(status: Any, argument: str = "status") -> str:
    if not isinstance(status, str) or status not in PIPELINE_STATES:
        raise ValidationError(
            f"{argument}={status!r} is not a state; use one of {', '.join(PIPELINE_STATES)}."
        )
    return status


def could_be_pipeline_id(value: Any) -> bool:
    """Whether ``value`` could be an id the store gave (a UUID in its canonical form).
    Others are not looked up: PostgreSQL refuses some strings (with NUL) in a query."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def could_be_fingerprint(value: Any) -> bool:
    return isinstance(value, str) and _FINGERPRINT.fullmatch(value) is not None


def check_fingerprint(fingerprint: Any) -> str:
    if not could_be_fingerprint(fingerprint):
        raise ValidationError(
            f"fingerprint={fingerprint!r} is not a step fingerprint: use 1-255 letters, digits, "
            "'_', '.', ':', '+', '=' or '-', starting with a letter or digit (a digest)."
        )
    return fingerprint


def check_step_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str):
        raise ValidationError(f"run_id={run_id!r} must be the id (a str) of a Completed run.")
    return run_id


def _time(value: Any, argument: str) -> float | None:
    """A due time as stored: a float exactly as given (ints become floats), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{argument}={value!r} must be a time in epoch seconds, or None.")
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ValidationError(f"{argument}={value!r} must be a finite time in epoch seconds.")
    return value


def _bool(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{argument}={value!r} must be True or False.")
    return value


def check_published_pipeline_args(
    name: Any, graph: Any, description: Any, version: Any, continue_on_step_failure: Any
) -> dict[str, Any]:
    """The checked ``graph``: a deep copy, as it will read back."""
    check_pipeline_name(name)
    optional_text(description, "description")
    optional_text(version, "version", _MAX_NAME)
    _bool(continue_on_step_failure, "continue_on_step_failure")
    return json_dict(graph, "graph")


def check_endpoint_args(name: Any, description: Any) -> None:
    check_pipeline_name(name)
    optional_text(description, "description")


def check_endpoint_key(endpoint_id: Any, name: Any) -> None:
    """``get_pipeline_endpoint`` takes exactly one of an id and a name."""
    if (endpoint_id is None) == (name is None):
        raise ValidationError(
            "Give exactly one of endpoint_id= and name= to find a pipeline endpoint; got "
            f"endpoint_id={endpoint_id!r}, name={name!r}."
        )


def check_endpoint_update(default_version: Any, status: Any, description: Any) -> None:
    if default_version is not None and (
        not isinstance(default_version, str) or not _VERSION.fullmatch(default_version)
    ):
        raise ValidationError(
            f"default_version={default_version!r} is not a version of a pipeline endpoint: "
            "versions are '0', '1', ... (str)."
        )
    if status is not None:
        check_pipeline_state(status)
    optional_text(description, "description")


def check_schedule_args(
    name: Any,
    *,
    experiment_name: Any,
    recurrence: Any,
    datastore: Any,
    path_on_datastore: Any,
    polling_interval: Any,
    data_path_parameter_name: Any,
    pipeline_parameters: Any,
    description: Any,
    next_fire_at: Any,
) -> dict[str, Any]:
    """The schedule's settings as they will be stored and read back (dicts deep-copied)."""
    check_pipeline_name(name)
    if not isinstance(experiment_name, str) or not _EXPERIMENT_NAME.fullmatch(experiment_name):
        raise ValidationError(
            f"experiment_name={experiment_name!r} is not a valid experiment name: use up to "
            "255 letters, digits, '_', '-' or '.', starting with a letter or digit."
        )
    if (recurrence is None) == (datastore is None):
        raise ValidationError(
            "Give exactly one of recurrence= (a schedule on a timetable) and datastore= (one "
            "that watches a path of a datastore for changes)."
        )
    if recurrence is not None:
        recurrence = json_dict(recurrence, "recurrence")
        for argument, value in (("path_on_datastore", path_on_datastore),
                                ("data_path_parameter_name", data_path_parameter_name)):
            if value is not None:
                raise ValidationError(
                    f"{argument}={value!r} applies only to a schedule on a datastore; "
                    "leave it out of a schedule with a recurrence."
                )
    else:
        check_datastore_name(datastore)
    if isinstance(polling_interval, bool) or not isinstance(polling_interval, (int, float)) or (
        not 0 < polling_interval < math.inf
    ):
        raise ValidationError(
            f"polling_interval={polling_interval!r} must be a positive number of minutes."
        )
    return {
        "name": name,
        "experiment_name": experiment_name,
        "recurrence": recurrence,
        "datastore": datastore,
        "path_on_datastore": optional_text(path_on_datastore, "path_on_datastore"),
        "polling_interval": float(polling_interval),
        "data_path_parameter_name": optional_text(
            data_path_parameter_name, "data_path_parameter_name", _MAX_NAME
        ),
        "pipeline_parameters": json_dict(
            {} if pipeline_parameters is None else pipeline_parameters, "pipeline_parameters"
        ),
        "description": optional_text(description, "description"),
        "next_fire_at": _time(next_fire_at, "next_fire_at"),
    }


def check_schedule_update(status: Any, next_fire_at: Any) -> float | None:
    """The checked ``next_fire_at``."""
    if status is not None:
        check_pipeline_state(status)
    return _time(next_fire_at, "next_fire_at")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- the mixin --------------------------------------------------------------------------------


class SqlPipelines:
    """Mixin of ``SqlStore`` (which provides ``_tx`` and ``_retrying``)."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> Any: ...
        def _retrying(self, fn: Any) -> Any: ...

    # -- step results -----------------------------------------------------------------------

    def record_step_result(self, workspace_id: str, fingerprint: str, run_id: str) -> None:
        check_fingerprint(fingerprint)
        check_step_run_id(run_id)
        key = (step_results.c.workspace_id == workspace_id,
               step_results.c.fingerprint == fingerprint)

        def write(conn: Connection) -> None:
            if not _run_in_workspace(conn, workspace_id, run_id):
                raise _not_found(conn, workspace_id, f"run with id {run_id!r}", "list_runs")
            values = {"run_id": run_id, "created_at": time.time()}
            # Two first records of one fingerprint collide on the primary key; _retrying then
            # runs this again, and the update finds the row.
            if conn.execute(update(step_results).where(*key).values(**values)).rowcount == 0:
                conn.execute(insert(step_results).values(
                    workspace_id=workspace_id, fingerprint=fingerprint, **values
                ))

        self._retrying(write)

    def find_step_result(self, workspace_id: str, fingerprint: str) -> str | None:
        if not could_be_fingerprint(fingerprint):
            return None
        query = (
            select(step_results.c.run_id)
            .join(runs, runs.c.id == step_results.c.run_id)
            .where(
                step_results.c.workspace_id == workspace_id,
                step_results.c.fingerprint == fingerprint,
                runs.c.status == RunStatus.COMPLETED,
            )
        )
        with self._tx(write=False) as conn:
            return conn.execute(query).scalar_one_or_none()

    # -- published pipelines ----------------------------------------------------------------

    def create_published_pipeline(
        self,
        workspace_id: str,
        name: str,
        *,
        graph: Mapping[str, Any],
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool = False,
    ) -> PublishedPipelineRecord:
        graph = check_published_pipeline_args(
            name, graph, description, version, continue_on_step_failure
        )
        text = _dumps(graph)

        def write(conn: Connection) -> PublishedPipelineRecord:
            _require_workspace(conn, workspace_id)
            record = PublishedPipelineRecord(
                id=str(uuid.uuid4()),
                workspace_id=workspace_id,
                name=name,
                created_at=time.time(),
                graph=json.loads(text),
                description=description,
                version=version,
                continue_on_step_failure=continue_on_step_failure,
                status=_ACTIVE,
            )
            conn.execute(insert(published_pipelines).values(
                id=record.id,
                workspace_id=workspace_id,
                name=name,
                description=description,
                version=version,
                graph=text,
                continue_on_step_failure=continue_on_step_failure,
                status=record.status,
                created_at=record.created_at,
            ))
            return record

        return self._retrying(write)

    def get_published_pipeline(
        self, workspace_id: str, pipeline_id: str
    ) -> PublishedPipelineRecord:
        with self._tx(write=False) as conn:
            return _published_pipeline(self._pipeline_row(conn, workspace_id, pipeline_id))

    def list_published_pipelines(
        self, workspace_id: str, active_only: bool = True
    ) -> list[PublishedPipelineRecord]:
        table = published_pipelines
        query = select(table).where(table.c.workspace_id == workspace_id)
        if active_only:
            query = query.where(table.c.status == _ACTIVE)
        query = query.order_by(table.c.created_at.desc(), table.c.id)
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_published_pipeline(r) for r in rows]

    def set_published_pipeline_status(
        self, workspace_id: str, pipeline_id: str, status: str
    ) -> PublishedPipelineRecord:
        check_pipeline_state(status)

        def write(conn: Connection) -> PublishedPipelineRecord:
            self._pipeline_row(conn, workspace_id, pipeline_id)
            conn.execute(
                update(published_pipelines)
                .where(published_pipelines.c.id == pipeline_id)
                .values(status=status)
            )
            return _published_pipeline(self._pipeline_row(conn, workspace_id, pipeline_id))

        return self._retrying(write)

    def _pipeline_row(self, conn: Connection, workspace_id: str, pipeline_id: Any) -> Row:
        row = None
        if could_be_pipeline_id(pipeline_id):
            row = conn.execute(
                select(published_pipelines).where(
                    published_pipelines.c.id == pipeline_id,
                    published_pipelines.c.workspace_id == workspace_id,
                )
            ).first()
        if row is None:
            raise _not_found(conn, workspace_id, f"published pipeline with id {pipeline_id!r}",
                             "list_published_pipelines")
        return row

    # -- pipeline endpoints -----------------------------------------------------------------

    def create_pipeline_endpoint(
        self, workspace_id: str, name: str, *, pipeline_id: str, description: str | None = None
    ) -> PipelineEndpointRecord:
        check_endpoint_args(name, description)

        def write(conn: Connection) -> PipelineEndpointRecord:
            self._pipeline_row(conn, workspace_id, pipeline_id)
            # A concurrent writer of the same name makes the insert collide on the unique
            # constraint; _retrying then runs this again, and the check below finds its row.
            if conn.execute(select(pipeline_endpoints.c.id).where(
                *_endpoint_name(workspace_id, name)
            )).first():
                raise AlreadyExistsError(
                    f"A pipeline endpoint named {name!r} already exists in workspace "
                    f"{_workspace_name(conn, workspace_id)!r}; choose another name, or add "
                    "the pipeline to it as a new version (add_pipeline_endpoint_version)."
                )
            record = PipelineEndpointRecord(
                id=str(uuid.uuid4()),
                workspace_id=workspace_id,
                name=name,
                created_at=time.time(),
                pipeline_ids=[pipeline_id],
                default_version="0",
                description=description,
                status=_ACTIVE,
            )
            conn.execute(insert(pipeline_endpoints).values(
                id=record.id,
                workspace_id=workspace_id,
                name=name,
                description=description,
                pipeline_ids=_dumps(record.pipeline_ids),
                default_version=record.default_version,
                status=record.status,
                created_at=record.created_at,
            ))
            return record

        return self._retrying(write)

    def get_pipeline_endpoint(
        self, workspace_id: str, *, endpoint_id: str | None = None, name: str | None = None
    ) -> PipelineEndpointRecord:
        check_endpoint_key(endpoint_id, name)
        with self._tx(write=False) as conn:
            if endpoint_id is not None:
                row = self._endpoint_row(conn, workspace_id, endpoint_id)
            else:
                row = self._endpoint_row_by_name(conn, workspace_id, name)
        return _endpoint(row)

    def list_pipeline_endpoints(
        self, workspace_id: str, active_only: bool = True
    ) -> list[PipelineEndpointRecord]:
        table = pipeline_endpoints
        query = select(table).where(table.c.workspace_id == workspace_id)
        if active_only:
            query = query.where(table.c.status == _ACTIVE)
        with self._tx(write=False) as conn:
            rows = conn.execute(query.order_by(table.c.name)).all()
        return [_endpoint(r) for r in rows]

    def add_pipeline_endpoint_version(
        self, workspace_id: str, endpoint_id: str, pipeline_id: str, *, make_default: bool = False
    ) -> PipelineEndpointRecord:
        _bool(make_default, "make_default")

        def write(conn: Connection) -> PipelineEndpointRecord:
            row = self._endpoint_row(conn, workspace_id, endpoint_id, lock=True)
            self._pipeline_row(conn, workspace_id, pipeline_id)
            ids = json.loads(row.pipeline_ids)
            if pipeline_id not in ids:
                ids.append(pipeline_id)
            values = {"pipeline_ids": _dumps(ids)}
            if make_default:
                values["default_version"] = str(ids.index(pipeline_id))
            conn.execute(
                update(pipeline_endpoints)
                .where(pipeline_endpoints.c.id == row.id,
                       pipeline_endpoints.c.pipeline_ids == row.pipeline_ids)
                .values(**values)
            )
            return _endpoint(self._endpoint_row(conn, workspace_id, endpoint_id))

        return self._retrying(write)

    def update_pipeline_endpoint(
        self,
        workspace_id: str,
        endpoint_id: str,
        *,
        default_version: str | None = None,
        status: str | None = None,
        description: str | None = None,
    ) -> PipelineEndpointRecord:
        check_endpoint_update(default_version, status, description)
        values = {
            k: v
            for k, v in (("default_version", default_version), ("status", status),
                         ("description", description))
            if v is not None
        }

        def write(conn: Connection) -> PipelineEndpointRecord:
            row = self._endpoint_row(conn, workspace_id, endpoint_id, lock=True)
            count = len(json.loads(row.pipeline_ids))
            if default_version is not None and int(default_version) >= count:
                raise ValidationError(
                    f"default_version={default_version!r} does not exist: pipeline endpoint "
                    f"{row.name!r} has versions 0 to {count - 1}."
                )
            if values:
                conn.execute(
                    update(pipeline_endpoints)
                    .where(pipeline_endpoints.c.id == row.id)
                    .values(**values)
                )
            return _endpoint(self._endpoint_row(conn, workspace_id, endpoint_id))

        return self._retrying(write)

    def _endpoint_row(
        self, conn: Connection, workspace_id: str, endpoint_id: Any, *, lock: bool = False
    ) -> Row:
        row = None
        if could_be_pipeline_id(endpoint_id):
            query = select(pipeline_endpoints).where(
                pipeline_endpoints.c.id == endpoint_id,
                pipeline_endpoints.c.workspace_id == workspace_id,
            )
            row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise _not_found(conn, workspace_id, f"pipeline endpoint with id {endpoint_id!r}",
                             "list_pipeline_endpoints")
        return row

    def _endpoint_row_by_name(self, conn: Connection, workspace_id: str, name: Any) -> Row:
        row = None
        if isinstance(name, str) and len(name) <= _MAX_NAME and "\x00" not in name:
            row = conn.execute(
                select(pipeline_endpoints).where(*_endpoint_name(workspace_id, name))
            ).first()
        if row is None:
            raise _not_found(conn, workspace_id, f"pipeline endpoint named {name!r}",
                             "list_pipeline_endpoints")
        return row

    # -- schedules --------------------------------------------------------------------------

    def create_schedule(
        self,
        workspace_id: str,
        name: str,
        *,
        pipeline_id: str,
        experiment_name: str,
        recurrence: Mapping[str, Any] | None = None,
        datastore: str | None = None,
        path_on_datastore: str | None = None,
        polling_interval: float = 5.0,
        data_path_parameter_name: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        next_fire_at: float | None = None,
    ) -> ScheduleRecord:
        settings = check_schedule_args(
            name, experiment_name=experiment_name, recurrence=recurrence, datastore=datastore,
            path_on_datastore=path_on_datastore, polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter_name,
            pipeline_parameters=pipeline_parameters, description=description,
            next_fire_at=next_fire_at,
        )

        columns = {
            **settings,
            "recurrence": None if recurrence is None else _dumps(settings["recurrence"]),
            "pipeline_parameters": _dumps(settings["pipeline_parameters"]),
        }

        def write(conn: Connection) -> ScheduleRecord:
            self._pipeline_row(conn, workspace_id, pipeline_id)
            record = ScheduleRecord(
                id=str(uuid.uuid4()),
                workspace_id=workspace_id,
                pipeline_id=pipeline_id,
                created_at=time.time(),
                status=_ACTIVE,
                **json.loads(_dumps(settings)),  # dicts of its own, as it will read back
            )
            conn.execute(insert(schedules).values(
                id=record.id,
                workspace_id=workspace_id,
                pipeline_id=pipeline_id,
                created_at=record.created_at,
                status=record.status,
                **columns,
            ))
            return record

        return self._retrying(write)

    def get_schedule(self, workspace_id: str, schedule_id: str) -> ScheduleRecord:
        with self._tx(write=False) as conn:
            return _schedule(self._schedule_row(conn, workspace_id, schedule_id))

    def list_schedules(
        self,
        workspace_id: str | None = None,
        *,
        pipeline_id: str | None = None,
        active_only: bool = True,
    ) -> list[ScheduleRecord]:
        query = select(schedules)
        if workspace_id is not None:
            query = query.where(schedules.c.workspace_id == workspace_id)
        if pipeline_id is not None:
            if not could_be_pipeline_id(pipeline_id):
                return []
            query = query.where(schedules.c.pipeline_id == pipeline_id)
        if active_only:
            query = query.where(schedules.c.status == _ACTIVE)
        query = query.order_by(schedules.c.created_at.desc(), schedules.c.id)
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_schedule(r) for r in rows]

    def update_schedule(
        self,
        workspace_id: str,
        schedule_id: str,
        *,
        status: str | None = None,
        next_fire_at: float | None = None,
    ) -> ScheduleRecord:
        next_fire_at = check_schedule_update(status, next_fire_at)
        values = {k: v for k, v in (("status", status), ("next_fire_at", next_fire_at))
                  if v is not None}

        def write(conn: Connection) -> ScheduleRecord:
            self._schedule_row(conn, workspace_id, schedule_id)
            if values:
                conn.execute(
                    update(schedules).where(schedules.c.id == schedule_id).values(**values)
                )
            return _schedule(self._schedule_row(conn, workspace_id, schedule_id))

        return self._retrying(write)

    def claim_schedule_fire(
        self,
        schedule_id: str,
        *,
        expected_next_fire_at: float | None,
        next_fire_at: float | None,
        data_state: Mapping[str, Any] | None = None,
        fired: bool = True,
    ) -> bool:
        expected = _time(expected_next_fire_at, "expected_next_fire_at")
        values: dict[str, Any] = {"next_fire_at": _time(next_fire_at, "next_fire_at")}
        if data_state is not None:
            values["data_state"] = _dumps(json_dict(data_state, "data_state"))
        if _bool(fired, "fired"):
            values["last_fired_at"] = time.time()
        if not could_be_pipeline_id(schedule_id):
            return False
        # next_fire_at IS NOT DISTINCT FROM expected, as the one UPDATE's condition: floats
        # are stored exactly as given and compared exactly, and a concurrent claim of the
        # same due time waits for this one's row lock, then finds the time moved (0 rows).
        same_time = (
            schedules.c.next_fire_at.is_(None)
            if expected is None
            else schedules.c.next_fire_at == expected
        )
        statement = (
            update(schedules)
            .where(schedules.c.id == schedule_id, schedules.c.status == _ACTIVE, same_time)
            .values(**values)
        )
        return self._retrying(lambda conn: conn.execute(statement).rowcount == 1)

    def set_schedule_last_run(self, schedule_id: str, run_id: str) -> None:
        check_step_run_id(run_id)
        done = 0
        if could_be_pipeline_id(schedule_id):
            statement = (
                update(schedules).where(schedules.c.id == schedule_id).values(last_run_id=run_id)
            )
            done = self._retrying(lambda conn: conn.execute(statement).rowcount)
        if not done:
            raise NotFoundError(f"No schedule with id {schedule_id!r}.")

    def _schedule_row(self, conn: Connection, workspace_id: str, schedule_id: Any) -> Row:
        row = None
        if could_be_pipeline_id(schedule_id):
            row = conn.execute(
                select(schedules).where(
                    schedules.c.id == schedule_id, schedules.c.workspace_id == workspace_id
                )
            ).first()
        if row is None:
            raise _not_found(conn, workspace_id, f"schedule with id {schedule_id!r}",
                             "list_schedules")
        return row


# -- helpers ----------------------------------------------------------------------------------


def _workspace_name(conn: Connection, workspace_id: str) -> str | None:
    return conn.execute(
        select(workspaces.c.name).where(workspaces.c.id == workspace_id)
    ).scalar_one_or_none()


def _require_workspace(conn: Connection, workspace_id: str) -> None:
    if _workspace_name(conn, workspace_id) is None:
        raise NotFoundError(f"No workspace with id {workspace_id!r}.")


def _not_found(conn: Connection, workspace_id: str, what: str, listing: str) -> NotFoundError:
    ws_name = _workspace_name(conn, workspace_id)
    if ws_name is None:
        return NotFoundError(f"No {what}: there is no workspace with id {workspace_id!r}.")
    return NotFoundError(f"No {what} in workspace {ws_name!r}; {listing} shows those that exist.")


def _run_in_workspace(conn: Connection, workspace_id: str, run_id: str) -> bool:
    if not _RUN_ID.fullmatch(run_id):
        return False
    return conn.execute(
        select(runs.c.id)
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .where(runs.c.id == run_id, experiments.c.workspace_id == workspace_id)
    ).first() is not None


def _endpoint_name(workspace_id: str, name: str) -> tuple:
    return (pipeline_endpoints.c.workspace_id == workspace_id, pipeline_endpoints.c.name == name)


def _published_pipeline(row: Row) -> PublishedPipelineRecord:
    return PublishedPipelineRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        created_at=row.created_at,
        graph=json.loads(row.graph),
        description=row.description,
        version=row.version,
        continue_on_step_failure=bool(row.continue_on_step_failure),
        status=row.status,
    )


def _endpoint(row: Row) -> PipelineEndpointRecord:
    return PipelineEndpointRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        created_at=row.created_at,
        pipeline_ids=json.loads(row.pipeline_ids),
        default_version=row.default_version,
        description=row.description,
        status=row.status,
    )


def _schedule(row: Row) -> ScheduleRecord:
    return ScheduleRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        pipeline_id=row.pipeline_id,
        experiment_name=row.experiment_name,
        created_at=row.created_at,
        recurrence=json.loads(row.recurrence) if row.recurrence is not None else None,
        datastore=row.datastore,
        path_on_datastore=row.path_on_datastore,
        polling_interval=row.polling_interval,
        data_path_parameter_name=row.data_path_parameter_name,
        pipeline_parameters=json.loads(row.pipeline_parameters),
        description=row.description,
        status=row.status,
        next_fire_at=row.next_fire_at,
        data_state=json.loads(row.data_state) if row.data_state is not None else None,
        last_fired_at=row.last_fired_at,
        last_run_id=row.last_run_id,
    )
