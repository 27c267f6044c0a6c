"""``Schedule``: submit a published pipeline on a recurrence or when datastore files change.

Schedules are kept in the workspace and fired by the schedule runner of ``plinth server``
(any number of server processes may serve one database; each due time fires once). A
workspace opened directly, without a server, keeps its schedules, but they fire only while a
server serves its database.
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from plinth._pipelines.recurrence import (
    WINDOWS_ZONES,
    check_recurrence,
    describe,
    next_fire_time,
)
from plinth._pipelines.scheduler import PROPERTY_SCHEDULE_ID
from plinth._store.base import ScheduleRecord
from plinth.exceptions import NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.core.run import Run
    from plinth.core.workspace import Workspace

__all__ = ["Schedule", "ScheduleRecurrence", "TimeZone"]


_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _member_name(windows_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", windows_name)


#: azureml's time zones (the ones Plinth maps to IANA zones): ``TimeZone.PacificStandardTime``
#: is ``"Pacific Standard Time"``, i.e. America/Los_Angeles. ``ScheduleRecurrence`` also takes
#: an IANA name such as ``"Europe/Berlin"``.
TimeZone = Enum(  # type: ignore[misc]
    "TimeZone", {_member_name(name): name for name in WINDOWS_ZONES},
    type=str, module=__name__, qualname="TimeZone",
)


class ScheduleRecurrence:
    """How often a schedule fires: every ``interval`` ``frequency`` units ("Minute", "Hour",
    "Day", "Week" or "Month") from ``start_time``.

    ``start_time`` is a datetime or an ISO string; without an offset it is in ``time_zone``
    (a ``TimeZone`` member or an IANA name; default UTC). Without a start time the first run
    is at once. With "Day" or "Week", ``hours`` (0-23) and ``minutes`` (0-59), or
    ``time_of_day`` ("HH:MM"), choose the times of day; with "Week", ``week_days``
    ("Monday" ... "Sunday") the days. Day, Week and Month recurrences keep to the wall clock
    of their time zone across daylight-saving changes.
    """

    def __init__(self, frequency: str, interval: int, start_time: datetime | str | None = None,
                 time_zone: Any = None, hours: list[int] | None = None,
                 minutes: list[int] | None = None, week_days: list[str] | None = None,
                 time_of_day: str | None = None):
        self.frequency = frequency
        self.interval = interval
        self.start_time = start_time
        self.time_zone = time_zone
        self.hours = hours
        self.minutes = minutes
        self.week_days = week_days
        self.time_of_day = time_of_day
        self.validate()

    def validate(self) -> None:
        """Raise a ``UserErrorException`` (a ``ValueError``) naming the first bad argument."""
        self._to_dict()

    def _to_dict(self) -> dict[str, Any]:
        return check_recurrence({
            "frequency": self.frequency, "interval": self.interval,
            "start_time": self.start_time, "time_zone": self.time_zone, "hours": self.hours,
            "minutes": self.minutes, "week_days": self.week_days,
            "time_of_day": self.time_of_day,
        })

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> "ScheduleRecurrence":
        return cls(**{k: data.get(k) for k in (
            "frequency", "interval", "start_time", "time_zone", "hours", "minutes",
            "week_days", "time_of_day")})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleRecurrence) and other._to_dict() == self._to_dict()

    def __repr__(self) -> str:
        given = {k: v for k, v in self._to_dict().items() if v is not None}
        return "ScheduleRecurrence(" + ", ".join(f"{k}={v!r}" for k, v in given.items()) + ")"


class Schedule:
    """A schedule of a published pipeline. ``Schedule.create`` makes one; ``Schedule.get``
    and ``Schedule.list`` find them."""

    def __init__(self, workspace: "Workspace", id: str):
        self._attach(workspace, _get_record(workspace, id))

    def _attach(self, workspace: "Workspace", record: ScheduleRecord) -> None:
        self._workspace = workspace
        self._record = record

    @classmethod
    def _from_record(cls, workspace: "Workspace", record: ScheduleRecord) -> "Schedule":
        schedule = cls.__new__(cls)
        schedule._attach(workspace, record)
        return schedule

    # -- creating and finding --------------------------------------------------------------

    @staticmethod
    def create(workspace: "Workspace", name: str, pipeline_id: str, experiment_name: str,
               recurrence: ScheduleRecurrence | None = None, description: str | None = None,
               pipeline_parameters: Mapping[str, Any] | None = None,
               wait_for_provisioning: bool = False, wait_timeout: int = 3600,
               datastore: Any = None, polling_interval: float = 5,
               data_path_parameter_name: str | None = None,
               continue_on_step_failure: bool | None = None,
               path_on_datastore: str | None = None, _workflow_provider: Any = None,
               _service_endpoint: Any = None) -> "Schedule":
        """Submit the published pipeline ``pipeline_id`` to ``experiment_name`` on
        ``recurrence``, or, with ``datastore``, whenever files under ``path_on_datastore``
        are added or changed (checked every ``polling_interval`` minutes; the path of the
        first such file goes to the pipeline parameter ``data_path_parameter_name``).

        The schedule is ready at once, so ``wait_for_provisioning`` and ``wait_timeout``
        change nothing.
        """
        _check_text(name, "name")
        _check_experiment_name(experiment_name)
        if (recurrence is None) == (datastore is None):
            raise UserErrorException(
                "Pass exactly one of recurrence= (a ScheduleRecurrence: fire on a timetable) "
                "and datastore= (fire when files change in that datastore)."
            )
        pipeline = _published_pipeline(workspace, pipeline_id)
        _check_continue_on_step_failure(continue_on_step_failure, pipeline)
        common = {
            "pipeline_id": pipeline.id, "experiment_name": experiment_name,
            "description": description,
            "pipeline_parameters": _check_parameters(pipeline_parameters),
        }
        if recurrence is not None:
            fields = _recurrence_fields(recurrence, data_path_parameter_name,
                                        path_on_datastore)
        else:
            fields = _data_fields(workspace, datastore, path_on_datastore, polling_interval,
                                  data_path_parameter_name)
        record = workspace._store.create_schedule(workspace._id, name, **common, **fields)
        _warn_if_not_served(workspace)
        return Schedule._from_record(workspace, record)

    @staticmethod
    def get(workspace: "Workspace", id: str, _workflow_provider: Any = None,
            _service_endpoint: Any = None) -> "Schedule":
        """The schedule with ``id``."""
        return Schedule._from_record(workspace, _get_record(workspace, id))

    @staticmethod
    def list(workspace: "Workspace", active_only: bool = True, pipeline_id: str | None = None,
             _workflow_provider: Any = None, _service_endpoint: Any = None
             ) -> list["Schedule"]:
        """The workspace's schedules, newest first: only Active ones unless ``active_only``
        is False; only those of the published pipeline ``pipeline_id`` when it is given."""
        records = workspace._store.list_schedules(workspace._id, pipeline_id=pipeline_id,
                                                  active_only=active_only)
        return [Schedule._from_record(workspace, r) for r in records]

    @staticmethod
    def get_all(workspace: "Workspace", active_only: bool = True,
                pipeline_id: str | None = None, _workflow_provider: Any = None,
                _service_endpoint: Any = None) -> list["Schedule"]:
        """The same as :meth:`list`."""
        return Schedule.list(workspace, active_only=active_only, pipeline_id=pipeline_id)

    @staticmethod
    def get_schedules_for_pipeline_id(workspace: "Workspace", pipeline_id: str,
                                      _workflow_provider: Any = None,
                                      _service_endpoint: Any = None) -> list["Schedule"]:
        """Every schedule (Active or Disabled) of the published pipeline ``pipeline_id``."""
        return Schedule.list(workspace, active_only=False, pipeline_id=pipeline_id)

    # -- what it is ------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def pipeline_id(self) -> str:
        return self._record.pipeline_id

    @property
    def experiment_name(self) -> str:
        return self._record.experiment_name

    @property
    def status(self) -> str:
        """'Active' or 'Disabled'."""
        return self._record.status

    @property
    def recurrence(self) -> ScheduleRecurrence | None:
        rec = self._record.recurrence
        return None if rec is None else ScheduleRecurrence._from_dict(rec)

    @property
    def datastore_name(self) -> str | None:
        return self._record.datastore

    @property
    def path_on_datastore(self) -> str | None:
        return self._record.path_on_datastore

    @property
    def polling_interval(self) -> float | None:
        """Minutes between checks of a data trigger's files (None for a recurrence)."""
        return None if self._record.datastore is None else self._record.polling_interval

    @property
    def data_path_parameter_name(self) -> str | None:
        return self._record.data_path_parameter_name

    @property
    def pipeline_parameters(self) -> dict[str, Any]:
        return dict(self._record.pipeline_parameters)

    @property
    def next_run_time(self) -> datetime | None:
        """When it fires next (a recurrence) or checks its files next (a data trigger)."""
        from datetime import UTC

        at = self._record.next_fire_at
        return None if at is None else datetime.fromtimestamp(at, UTC)

    # -- changing --------------------------------------------------------------------------

    def disable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Stop firing until :meth:`enable`."""
        self._set_status("Disabled")

    def enable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Fire again: a recurrence from its next due time after now (runs missed while
        disabled are not made up); a data trigger checks its files at once, so files added or
        changed while it was disabled fire it once."""
        self._set_status("Active")

    activate = enable

    def update(self, name: str | None = None, description: str | None = None,
               recurrence: ScheduleRecurrence | None = None,
               pipeline_parameters: Mapping[str, Any] | None = None, status: str | None = None,
               wait_for_provisioning: bool = False, wait_timeout: int = 3600,
               datastore: Any = None, polling_interval: float | None = None,
               data_path_parameter_name: str | None = None,
               continue_on_step_failure: bool | None = None,
               path_on_datastore: str | None = None) -> None:
        """Change the status ('Active' or 'Disabled'). Other settings cannot be changed:
        create a new schedule and disable this one."""
        others = {"name": name, "description": description, "recurrence": recurrence,
                  "pipeline_parameters": pipeline_parameters, "datastore": datastore,
                  "polling_interval": polling_interval,
                  "data_path_parameter_name": data_path_parameter_name,
                  "continue_on_step_failure": continue_on_step_failure,
                  "path_on_datastore": path_on_datastore}
        given = [k for k, v in others.items() if v is not None]
        if given:
            raise UserErrorException(
                f"Schedule.update cannot change {', '.join(given)}: only status. Create a new "
                "schedule with Schedule.create(...) and disable this one."
            )
        if status is not None:
            if status not in ("Active", "Disabled"):
                raise UserErrorException(f"status={status!r}: use 'Active' or 'Disabled'.")
            self._set_status(status)

    def _set_status(self, status: str) -> None:
        ws = self._workspace
        self.refresh()
        enabling = status == "Active" and self._record.status != "Active"
        next_fire_at = _next_after_enable(self._record) if enabling else None
        self._record = ws._store.update_schedule(ws._id, self.id, status=status,
                                                 next_fire_at=next_fire_at)

    def refresh(self) -> None:
        """Read the schedule again (its status, next due time and last run)."""
        self._record = _get_record(self._workspace, self.id)

    # -- its runs --------------------------------------------------------------------------

    def get_pipeline_runs(self) -> list["Run"]:
        """The pipeline runs this schedule submitted, newest first."""
        from plinth.core.experiment import Experiment

        ws = self._workspace
        try:
            record = ws._store.get_experiment(ws._id, self.experiment_name)
        except NotFoundError:
            return []
        experiment = Experiment._from_record(ws, record)
        runs = ws._store.list_runs(experiment_id=experiment.id, root_only=True)
        return [_as_pipeline_run(experiment, r) for r in runs
                if r.properties.get(PROPERTY_SCHEDULE_ID) == self.id]

    def get_last_pipeline_run(self) -> "Run | None":
        """The pipeline run the schedule submitted last, or None when it has not fired."""
        from plinth.core.experiment import Experiment

        self.refresh()
        if not self._record.last_run_id:
            return None
        ws = self._workspace
        record = ws._store.get_run(self._record.last_run_id)
        experiment = Experiment._from_record(
            ws, ws._store.get_experiment_by_id(record.experiment_id))
        return _as_pipeline_run(experiment, record)

    def _describe(self) -> str:
        rec = self._record
        if rec.recurrence is not None:
            return f"Runs {describe(rec.recurrence)}"
        where = f"{rec.path_on_datastore!r} of " if rec.path_on_datastore else ""
        return (f"Runs when files change in {where}datastore {rec.datastore!r} (checked every "
                f"{rec.polling_interval:g} minutes)")

    def __repr__(self) -> str:
        return (f"Schedule(Name: {self.name}, Id: {self.id}, Status: {self.status}, "
                f"Pipeline Id: {self.pipeline_id}, Recurrence Details: {self._describe()})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


# -- helpers -----------------------------------------------------------------------------------


def _get_record(workspace: "Workspace", schedule_id: str) -> ScheduleRecord:
    try:
        return workspace._store.get_schedule(workspace._id, schedule_id)
    except NotFoundError:
        raise NotFoundError(
            f"No schedule with id {schedule_id!r} in workspace {workspace.name!r}; list them "
            "with Schedule.list(ws, active_only=False) or `plinth schedule list`."
        ) from None


def _check_text(value: Any, argument: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise UserErrorException(f"{argument}={value!r}: use a non-blank string of at most 255 "
                                 "characters.")


def _check_experiment_name(name: Any) -> None:
    if not isinstance(name, str) or not _EXPERIMENT_NAME.fullmatch(name):
        raise UserErrorException(
            f"experiment_name={name!r} is invalid: use up to 255 letters, digits, '_', '-' or "
            "'.', starting with a letter or digit."
        )


def _published_pipeline(workspace: "Workspace", pipeline_id: Any) -> Any:
    if not isinstance(pipeline_id, str) or not pipeline_id.strip():
        raise UserErrorException(
            f"pipeline_id={pipeline_id!r}: pass the id of a published pipeline "
            "(published_pipeline.id)."
        )
    try:
        pipeline = workspace._store.get_published_pipeline(workspace._id, pipeline_id)
    except NotFoundError:
        raise NotFoundError(
            f"pipeline_id={pipeline_id!r}: no published pipeline with that id in workspace "
            f"{workspace.name!r}. Publish one with pipeline.publish(name) and pass its .id."
        ) from None
    if pipeline.status != "Active":
        raise UserErrorException(
            f"Published pipeline {pipeline_id!r} is {pipeline.status}; enable it "
            "(PublishedPipeline.enable()) before scheduling it."
        )
    return pipeline


def _check_continue_on_step_failure(value: bool | None, pipeline: Any) -> None:
    if value is not None and bool(value) != pipeline.continue_on_step_failure:
        raise UserErrorException(
            f"continue_on_step_failure={value!r}: a schedule runs the published pipeline with "
            f"its own setting ({pipeline.continue_on_step_failure}). Publish the pipeline with "
            f"continue_on_step_failure={bool(value)} and schedule that one."
        )


def _check_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise UserErrorException(
            "pipeline_parameters must be a dict such as {'reg_rate': 0.1}, got "
            f"{type(parameters).__name__}."
        )
    for key, value in parameters.items():
        if not isinstance(key, str) or isinstance(value, (list, dict, tuple, set)) or (
                value is None):
            raise UserErrorException(
                f"pipeline_parameters[{key!r}] must be a string, number or bool under a "
                f"string name, got {type(value).__name__}."
            )
    return dict(parameters)


def _recurrence_fields(recurrence: Any, data_path_parameter_name: str | None,
                       path_on_datastore: str | None) -> dict[str, Any]:
    if not isinstance(recurrence, ScheduleRecurrence):
        raise UserErrorException(
            f"recurrence must be a ScheduleRecurrence, got {type(recurrence).__name__}; e.g. "
            "ScheduleRecurrence(frequency='Hour', interval=1)."
        )
    for argument, value in (("data_path_parameter_name", data_path_parameter_name),
                            ("path_on_datastore", path_on_datastore)):
        if value is not None:
            raise UserErrorException(f"{argument} is only used with datastore=, not with "
                                     "recurrence=.")
    rec = recurrence._to_dict()
    now = time.time()
    return {"recurrence": rec, "next_fire_at": next_fire_time(rec, now - 1.0, anchor=now)}


def _data_fields(workspace: "Workspace", datastore: Any, path_on_datastore: str | None,
                 polling_interval: Any, data_path_parameter_name: str | None
                 ) -> dict[str, Any]:
    name = _datastore_name(workspace, datastore)
    if path_on_datastore is not None and not isinstance(path_on_datastore, str):
        raise UserErrorException(f"path_on_datastore={path_on_datastore!r}: use a path such "
                                 "as 'incoming/' (or None for the whole datastore).")
    if isinstance(polling_interval, bool) or not isinstance(polling_interval, (int, float)) \
            or not polling_interval > 0:
        raise UserErrorException(f"polling_interval={polling_interval!r}: use a number of "
                                 "minutes above 0 (default 5).")
    if data_path_parameter_name is not None:
        _check_text(data_path_parameter_name, "data_path_parameter_name")
    return {"datastore": name, "path_on_datastore": path_on_datastore or None,
            "polling_interval": float(polling_interval),
            "data_path_parameter_name": data_path_parameter_name, "next_fire_at": time.time()}


def _datastore_name(workspace: "Workspace", datastore: Any) -> str:
    name = datastore if isinstance(datastore, str) else getattr(datastore, "name", None)
    if not isinstance(name, str) or not name:
        raise UserErrorException(f"datastore={datastore!r}: pass a Datastore or its name.")
    from plinth.core.datastore import Datastore

    record = Datastore.get(workspace, name)._record
    if record.kind == "AzurePostgreSql":
        raise UserErrorException(
            f"datastore={name!r} is a PostgreSQL database; a schedule watches files, so pass "
            "a file datastore (blob, file share, S3, local folder)."
        )
    return name


def _next_after_enable(record: ScheduleRecord) -> float:
    now = time.time()
    if record.recurrence is None:
        return now
    return next_fire_time(record.recurrence, now, anchor=record.created_at)


def _warn_if_not_served(workspace: "Workspace") -> None:
    location = workspace._location
    if location.server_url:
        return
    with _warned_lock:
        if location._key() in _warned:
            return
        _warned.add(location._key())
    how = (f"plinth server --workspace {location.folder}" if location.folder is not None
           else "plinth server --backend-store-uri <its database>")
    message = (f"Schedules of workspace {workspace.name!r} fire while a workspace server serves "
               f"it (`{how}`); while none does, they wait.")
    warnings.warn(message, UserWarning, stacklevel=3)


def _as_pipeline_run(experiment: Any, record: Any) -> "Run":
    from plinth.pipeline.core.run import PipelineRun

    return PipelineRun._from_record(experiment, record)
