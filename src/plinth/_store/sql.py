"""``SqlStore``: the :class:`~plinth._store.base.Store` on SQLAlchemy (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError, OperationalError

from plinth._store import migrate
from plinth._store.base import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    ExperimentRecord,
    MetricPoint,
    ModelRecord,
    RunRecord,
    RunStatus,
    WorkspaceRecord,
)
from plinth._store.schema import (
    datastores,
    experiments,
    metric_points,
    metric_series,
    models,
    runs,
    workspaces,
)
from plinth._store.sql_computes import SqlComputes
from plinth._store.sql_data import SqlData, builtin_datastore_rows
from plinth._store.sql_envs import SqlEnvironments
from plinth._store.sql_pipelines import SqlPipelines
from plinth._store.sql_secrets import SqlSecrets
from plinth._store.sql_services import SqlServices
from plinth._store.sql_users import SqlUsers
from plinth.exceptions import (
    AlreadyExistsError,
    ConcurrencyError,
    NotFoundError,
    StoreError,
    ValidationError,
)

__all__ = ["SqlStore", "redact_uri"]

DEFAULT_HEARTBEAT_TIMEOUT = 60.0
_RETRIES = 20
#: Run ids per query of ``latest_metrics``: well under SQLite's and PostgreSQL's limits on
#: bound parameters.
_IDS_PER_QUERY = 2000


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class SqlStore(
    SqlData, SqlEnvironments, SqlComputes, SqlPipelines, SqlServices, SqlSecrets, SqlUsers
):
    """Metadata in a SQL database, migrated to the newest schema on open.

    ``uri`` is a SQLAlchemy URL: ``sqlite:////abs/path/plinth.db`` (WAL mode, busy timeout,
    writers serialised with ``BEGIN IMMEDIATE``) or ``postgresql+psycopg://host/db``.
    """

    def __init__(self, uri: str, *, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT):
        self.uri = uri
        self.heartbeat_timeout = heartbeat_timeout
        self._engine = _make_engine(uri)
        self._lock = threading.RLock()
        migrate.upgrade(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    # -- plumbing -------------------------------------------------------------------------

    def after_fork(self) -> None:
        """In a forked child: drop pooled connections inherited from the parent unused."""
        self._engine.dispose(close=False)

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Connection]:
        """One transaction. Read-only ones skip SQLite's write lock, so readers never queue
        behind writers (WAL lets them read the last committed state)."""
        try:
            with self._engine.connect() as conn:
                if not write:
                    conn = conn.execution_options(plinth_read_only=True)
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            if _is_conflict(exc):
                raise
            raise StoreError(
                f"The metadata store {redact_uri(self.uri)} failed: {exc.orig}. Check that the "
                "database is reachable and the workspace config names the right one."
            ) from exc

    def _retrying(self, fn):
        """Run ``fn(conn)`` in a transaction, retrying when a concurrent writer collides."""
        delay = 0.005
        for _ in range(_RETRIES):
            try:
                with self._tx() as conn:
                    return fn(conn)
            except (IntegrityError, OperationalError) as exc:
                if not _is_conflict(exc):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        raise ConcurrencyError("Too many concurrent writers; try the operation again.")

    # -- workspaces -----------------------------------------------------------------------

    def create_workspace(self, name: str, properties: Mapping[str, Any]) -> WorkspaceRecord:
        record = WorkspaceRecord(uuid.uuid4().hex, name, time.time(), dict(properties))
        try:
            with self._tx() as conn:
                conn.execute(
                    insert(workspaces).values(
                        id=record.id,
                        name=name,
                        created_at=record.created_at,
                        properties=_dumps(record.properties),
                    )
                )
                conn.execute(
                    insert(datastores), builtin_datastore_rows(record.id, record.created_at)
                )
        except IntegrityError:
            raise AlreadyExistsError(f"A workspace named {name!r} already exists.") from None
        return record

    def get_workspace(self, name: str) -> WorkspaceRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(select(workspaces).where(workspaces.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"No workspace named {name!r} in this store.")
        return _workspace(row)

    def list_workspaces(self) -> list[WorkspaceRecord]:
        with self._tx(write=False) as conn:
            rows = conn.execute(select(workspaces).order_by(workspaces.c.name)).all()
        return [_workspace(r) for r in rows]

    def delete_workspace(self, name: str) -> None:
        ws = self.get_workspace(name)
        with self._tx() as conn:
            exp_ids = select(experiments.c.id).where(experiments.c.workspace_id == ws.id)
            run_ids = select(runs.c.id).where(runs.c.experiment_id.in_(exp_ids))
            series_ids = select(metric_series.c.id).where(metric_series.c.run_id.in_(run_ids))
            conn.execute(delete(metric_points).where(metric_points.c.series_id.in_(series_ids)))
            conn.execute(delete(metric_series).where(metric_series.c.run_id.in_(run_ids)))
            self._delete_data(conn, ws.id, run_ids)
            self._delete_environments(conn, ws.id)
            self._delete_computes(conn, ws.id)
            conn.execute(delete(runs).where(runs.c.experiment_id.in_(exp_ids)))
            conn.execute(delete(experiments).where(experiments.c.workspace_id == ws.id))
            conn.execute(delete(models).where(models.c.workspace_id == ws.id))
            conn.execute(delete(workspaces).where(workspaces.c.id == ws.id))

    # -- experiments ----------------------------------------------------------------------

    def create_experiment(self, workspace_id: str, name: str) -> ExperimentRecord:
        def create(conn: Connection) -> ExperimentRecord:
            row = conn.execute(
                select(experiments).where(
                    experiments.c.workspace_id == workspace_id, experiments.c.name == name
                )
            ).first()
            if row is not None:
                return _experiment(row)
            _require_workspace(conn, workspace_id)
            values = {
                "id": uuid.uuid4().hex,
                "workspace_id": workspace_id,
                "name": name,
                "created_at": time.time(),
                "archived": False,
                "next_run_number": 1,
            }
            conn.execute(insert(experiments).values(**values))
            return ExperimentRecord(
                values["id"], workspace_id, name, values["created_at"], archived=False
            )

        return self._retrying(create)

    def get_experiment(self, workspace_id: str, name: str) -> ExperimentRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(
                select(experiments).where(
                    experiments.c.workspace_id == workspace_id, experiments.c.name == name
                )
            ).first()
        if row is None:
            raise NotFoundError(f"No experiment named {name!r} in this workspace.")
        return _experiment(row)

    def get_experiment_by_id(self, experiment_id: str) -> ExperimentRecord:
        with self._tx(write=False) as conn:
            row = conn.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
        if row is None:
            raise NotFoundError(f"No experiment with id {experiment_id!r}.")
        return _experiment(row)

    def list_experiments(
        self, workspace_id: str, include_archived: bool = False
    ) -> list[ExperimentRecord]:
        query = select(experiments).where(experiments.c.workspace_id == workspace_id)
        if not include_archived:
            query = query.where(experiments.c.archived.is_(False))
        with self._tx(write=False) as conn:
            rows = conn.execute(query.order_by(experiments.c.name)).all()
        return [_experiment(r) for r in rows]

    def set_experiment_archived(self, experiment_id: str, archived: bool) -> ExperimentRecord:
        with self._tx() as conn:
            done = conn.execute(
                update(experiments)
                .where(experiments.c.id == experiment_id)
                .values(archived=archived)
            ).rowcount
        if not done:
            raise NotFoundError(f"No experiment with id {experiment_id!r}.")
        return self.get_experiment_by_id(experiment_id)

    # -- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        run_id: str,
        *,
        run_type: str,
        status: str = RunStatus.NOT_STARTED,
        parent_id: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        definition: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        now = time.time()

        def create(conn: Connection) -> None:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first():
                raise AlreadyExistsError(f"A run with id {run_id!r} already exists.")
            number = conn.execute(
                update(experiments)
                .where(experiments.c.id == experiment_id)
                .values(next_run_number=experiments.c.next_run_number + 1)
                .returning(experiments.c.next_run_number)
            ).scalar()
            if number is None:
                raise NotFoundError(f"No experiment with id {experiment_id!r}.")
            conn.execute(
                insert(runs).values(
                    id=run_id,
                    experiment_id=experiment_id,
                    number=number - 1,
                    parent_id=parent_id,
                    run_type=run_type,
                    status=status,
                    display_name=display_name,
                    description=description,
                    created_at=now,
                    start_time=now if status == RunStatus.RUNNING else None,
                    heartbeat_at=now,
                    cancel_requested=False,
                    tags=_dumps(dict(tags or {})),
                    properties=_dumps(dict(properties or {})),
                    definition=_dumps(dict(definition)) if definition is not None else None,
                )
            )

        self._retrying(create)
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> RunRecord:
        query = _run_query().where(runs.c.id == run_id)
        with self._tx(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"No run with id {run_id!r}.")
        if row.status in ACTIVE_STATUSES and self._is_stale(row.heartbeat_at):
            with self._tx() as conn:
                self._fail_stale(conn, run_id=run_id)
                row = conn.execute(query).first()
        return _run(row)

    def list_runs(
        self,
        *,
        experiment_id: str | None = None,
        parent_id: str | None = None,
        run_type: str | None = None,
        root_only: bool = False,
    ) -> list[RunRecord]:
        query = _run_query()
        if experiment_id is not None:
            query = query.where(runs.c.experiment_id == experiment_id)
        if parent_id is not None:
            query = query.where(runs.c.parent_id == parent_id)
        if run_type is not None:
            query = query.where(runs.c.run_type == run_type)
        if root_only:
            query = query.where(runs.c.parent_id.is_(None))
        query = query.order_by(runs.c.created_at.desc(), runs.c.number.desc())
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        if any(r.status in ACTIVE_STATUSES and self._is_stale(r.heartbeat_at) for r in rows):
            with self._tx() as conn:
                self._fail_stale(conn)
                rows = conn.execute(query).all()
        return [_run(r) for r in rows]

    def set_status(
        self, run_id: str, status: str, *, error: Mapping[str, Any] | None = None
    ) -> RunRecord:
        if status not in ACTIVE_STATUSES | TERMINAL_STATUSES:
            raise ValidationError(f"Unknown run status {status!r}.")
        now = time.time()
        values: dict[str, Any] = {"status": status, "heartbeat_at": now}
        if status == RunStatus.RUNNING:
            values["start_time"] = func.coalesce(runs.c.start_time, now)
        if status in TERMINAL_STATUSES:
            values["end_time"] = now
            values["start_time"] = func.coalesce(runs.c.start_time, now)
        if error is not None:
            values["error"] = _dumps(dict(error))
        with self._tx() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status.notin_(TERMINAL_STATUSES))
                .values(**values)
            )
        return self.get_run(run_id)

    def request_cancel(self, run_id: str) -> RunRecord:
        now = time.time()
        with self._tx() as conn:
            # No process picked it up yet: nobody else will stop it, so cancel it here.
            conn.execute(
                update(runs)
                .where(
                    runs.c.id == run_id,
                    runs.c.status.in_([RunStatus.NOT_STARTED, RunStatus.QUEUED]),
                )
                .values(status=RunStatus.CANCELED, end_time=now, cancel_requested=True)
            )
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status.notin_(TERMINAL_STATUSES))
                .values(cancel_requested=True, status=RunStatus.CANCEL_REQUESTED)
            )
        return self.get_run(run_id)

    def heartbeat(self, run_id: str) -> bool:
        with self._tx() as conn:
            flag = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status.notin_(TERMINAL_STATUSES))
                .values(heartbeat_at=time.time())
                .returning(runs.c.cancel_requested)
            ).scalar()
            if flag is None:
                if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                    raise NotFoundError(f"No run with id {run_id!r}.")
                return True  # the run already ended (failed as stale, say): stop its process
        return bool(flag)

    def _is_stale(self, heartbeat_at: float | None) -> bool:
        return heartbeat_at is not None and heartbeat_at < time.time() - self.heartbeat_timeout

    def fail_stale_runs(self) -> list[str]:
        with self._tx() as conn:
            return self._fail_stale(conn)

    def _fail_stale(self, conn: Connection, run_id: str | None = None) -> list[str]:
        now = time.time()
        stale = [
            runs.c.status.in_(ACTIVE_STATUSES),
            runs.c.heartbeat_at < now - self.heartbeat_timeout,
        ]
        if run_id is not None:
            stale.append(runs.c.id == run_id)
        error = {
            "message": (
                "The process running this run stopped sending heartbeats for more than "
                f"{self.heartbeat_timeout:g} s (it was killed or its machine restarted)."
            ),
            "code": "HeartbeatLost",
        }
        return list(
            conn.execute(
                update(runs)
                .where(*stale)
                .values(
                    status=RunStatus.FAILED,
                    end_time=now,
                    error=_dumps(error),
                    start_time=func.coalesce(runs.c.start_time, now),
                )
                .returning(runs.c.id)
            ).scalars()
        )

    def update_run(
        self, run_id: str, *, display_name: str | None = None, description: str | None = None
    ) -> RunRecord:
        values = {
            k: v
            for k, v in (("display_name", display_name), ("description", description))
            if v is not None
        }
        if values:
            with self._tx() as conn:
                conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
        return self.get_run(run_id)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> RunRecord:
        return self._edit_run_json(run_id, "tags", lambda cur: {**cur, **tags})

    def remove_tags(self, run_id: str, keys: Iterable[str]) -> RunRecord:
        keys = set(keys)
        return self._edit_run_json(
            run_id, "tags", lambda cur: {k: v for k, v in cur.items() if k not in keys}
        )

    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> RunRecord:
        def merge(current: dict) -> dict:
            for key, value in properties.items():
                if key in current and current[key] != value:
                    raise ValidationError(
                        f"Property {key!r} of run {run_id!r} is already {current[key]!r}; "
                        "properties cannot be changed once set (use tags for mutable values)."
                    )
            return {**current, **properties}

        return self._edit_run_json(run_id, "properties", merge)

    def _edit_run_json(self, run_id: str, column: str, change) -> RunRecord:
        col = runs.c[column]

        def edit(conn: Connection) -> None:
            # FOR UPDATE: a concurrent edit waits instead of being silently lost.
            current = conn.execute(
                select(col).where(runs.c.id == run_id).with_for_update()
            ).scalar()
            if current is None:
                raise NotFoundError(f"No run with id {run_id!r}.")
            new = change(json.loads(current))
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, col == current)
                .values({column: _dumps(new)})
            )

        self._retrying(edit)
        return self.get_run(run_id)

    # -- metrics --------------------------------------------------------------------------

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        if not points:
            return
        groups: dict[tuple[str, str], list[MetricPoint]] = {}
        for p in points:
            groups.setdefault((p.name, p.kind), []).append(p)
        # The DB-API's executemany is several times faster than a Core insert of many
        # dicts, and metric batches are the one hot write path.
        mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO metric_points VALUES ({', '.join([mark] * 6)})"

        def write(conn: Connection) -> None:
            rows: list[tuple] = []
            for (name, kind), group in groups.items():
                series_id, start = self._reserve(conn, run_id, name, kind, group)
                rows.extend(_point_row(series_id, start + i, p) for i, p in enumerate(group))
            cursor = conn.connection.cursor()
            try:
                cursor.executemany(sql, rows)
            finally:
                cursor.close()

        self._retrying(write)

    def _reserve(
        self, conn: Connection, run_id: str, name: str, kind: str, group: list[MetricPoint]
    ) -> tuple[int, int]:
        """The series of (run, name, kind), and the first of ``len(group)`` positions in it,
        reserved under a row lock."""
        key = (
            metric_series.c.run_id == run_id,
            metric_series.c.name == name,
            metric_series.c.kind == kind,
        )
        row = conn.execute(
            select(metric_series.c.id, metric_series.c.count).where(*key).with_for_update()
        ).first()
        if row is None:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise NotFoundError(f"No run with id {run_id!r}; metrics were not logged.")
            description = next((p.description for p in group if p.description), None)
            series_id = conn.execute(
                insert(metric_series)
                .values(run_id=run_id, name=name, kind=kind, description=description,
                        count=len(group))
                .returning(metric_series.c.id)
            ).scalar_one()
            return series_id, 0
        conn.execute(
            update(metric_series)
            .where(metric_series.c.id == row.id)
            .values(count=row.count + len(group))
        )
        return row.id, row.count

    def get_metrics(self, run_id: str, name: str | None = None) -> list[MetricPoint]:
        query = (
            select(
                metric_series.c.name,
                metric_series.c.kind,
                metric_series.c.description,
                metric_points,
            )
            .join(metric_points, metric_points.c.series_id == metric_series.c.id)
            .where(metric_series.c.run_id == run_id)
        )
        if name is not None:
            query = query.where(metric_series.c.name == name)
        query = query.order_by(metric_series.c.id, metric_points.c.idx)
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_metric(r) for r in rows]

    def latest_metrics(
        self, run_ids: Sequence[str], names: Sequence[str] | None = None
    ) -> dict[str, dict[str, float]]:
        if isinstance(run_ids, str) or isinstance(names, str):
            raise ValidationError("run_ids and names must be lists of strings, not a str.")
        run_ids = list(dict.fromkeys(run_ids))
        names = None if names is None else list(dict.fromkeys(names))
        if not run_ids or names == []:
            return {}
        out: dict[str, dict[str, float]] = {}
        # A series' last point is at position count - 1: one primary-key lookup per series
        # (found through the (run_id, name, kind) index), not a scan of its points.
        with self._tx(write=False) as conn:
            for start in range(0, len(run_ids), _IDS_PER_QUERY):
                query = (
                    select(metric_series.c.run_id, metric_series.c.name,
                           metric_points.c.value, metric_points.c.payload)
                    .join(metric_points, and_(
                        metric_points.c.series_id == metric_series.c.id,
                        metric_points.c.idx == metric_series.c.count - 1))
                    .where(metric_series.c.run_id.in_(run_ids[start:start + _IDS_PER_QUERY]),
                           metric_series.c.kind == "scalar")
                )
                if names is not None:
                    query = query.where(metric_series.c.name.in_(names))
                for row in conn.execute(query):
                    number = _number(row.value, row.payload)
                    if number is not None:
                        out.setdefault(row.run_id, {})[row.name] = number
        return out

    # -- models ---------------------------------------------------------------------------

    def create_model_version(
        self,
        workspace_id: str,
        name: str,
        *,
        path: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        datasets: Sequence[Mapping[str, Any]] = (),
    ) -> ModelRecord:
        def create(conn: Connection) -> int:
            _require_workspace(conn, workspace_id)
            latest = conn.execute(
                select(func.max(models.c.version)).where(
                    models.c.workspace_id == workspace_id, models.c.name == name
                )
            ).scalar()
            version = (latest or 0) + 1
            conn.execute(
                insert(models).values(
                    workspace_id=workspace_id,
                    name=name,
                    version=version,
                    path=path,
                    created_at=time.time(),
                    description=description,
                    tags=_dumps(dict(tags or {})),
                    properties=_dumps(dict(properties or {})),
                    framework=framework,
                    framework_version=framework_version,
                    run_id=run_id,
                    experiment_name=experiment_name,
                    datasets=_dumps([dict(d) for d in datasets]),
                )
            )
            return version

        version = self._retrying(create)
        return self.get_model(workspace_id, name, version)

    def get_model(self, workspace_id: str, name: str, version: int | None = None) -> ModelRecord:
        query = select(models).where(models.c.workspace_id == workspace_id, models.c.name == name)
        if version is None:
            query = query.order_by(models.c.version.desc()).limit(1)
        else:
            query = query.where(models.c.version == int(version))
        with self._tx(write=False) as conn:
            row = conn.execute(query).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFoundError(f"No model named {name!r} with {which} in this workspace.")
        return _model(row)

    def list_models(self, workspace_id: str, name: str | None = None) -> list[ModelRecord]:
        query = select(models).where(models.c.workspace_id == workspace_id)
        if name is not None:
            query = query.where(models.c.name == name)
        query = query.order_by(models.c.created_at.desc(), models.c.version.desc())
        with self._tx(write=False) as conn:
            rows = conn.execute(query).all()
        return [_model(r) for r in rows]

    def update_model(
        self,
        workspace_id: str,
        name: str,
        version: int,
        *,
        add_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
        add_properties: Mapping[str, str] | None = None,
    ) -> ModelRecord:
        removed = set(remove_tags)
        key = (
            models.c.workspace_id == workspace_id,
            models.c.name == name,
            models.c.version == version,
        )

        def edit(conn: Connection) -> None:
            row = conn.execute(
                select(models.c.tags, models.c.properties).where(*key).with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(f"No model {name}:{version} in this workspace.")
            tags = {**json.loads(row.tags), **(add_tags or {})}
            tags = {k: v for k, v in tags.items() if k not in removed}
            props = json.loads(row.properties)
            for k, v in (add_properties or {}).items():
                if k in props and props[k] != v:
                    raise ValidationError(
                        f"Property {k!r} of model {name}:{version} is already {props[k]!r}; "
                        "properties cannot be changed once set (use tags for mutable values)."
                    )
                props[k] = v
            conn.execute(
                update(models)
                .where(*key, models.c.tags == row.tags, models.c.properties == row.properties)
                .values(tags=_dumps(tags), properties=_dumps(props))
            )

        self._retrying(edit)
        return self.get_model(workspace_id, name, version)

    def delete_model(self, workspace_id: str, name: str, version: int) -> None:
        with self._tx() as conn:
            done = conn.execute(
                delete(models).where(
                    models.c.workspace_id == workspace_id,
                    models.c.name == name,
                    models.c.version == version,
                )
            ).rowcount
        if not done:
            raise NotFoundError(f"No model {name}:{version} in this workspace.")


# -- engine setup ---------------------------------------------------------------------------


def _make_engine(uri: str):
    if uri.startswith("sqlite"):
        engine = create_engine(uri, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=60000")
            _use_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the write lock up front so concurrent writers queue on
            # busy_timeout instead of failing on a deferred lock upgrade.
            read_only = conn.get_execution_options().get("plinth_read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(uri, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _use_wal(cur: Any, wait_seconds: float = 60.0) -> None:
    """Put the database in WAL mode (readers then never wait for writers). Switching needs
    the database to itself, and SQLite answers "database is locked" at once rather than
    waiting while another process holds it (as when several open a new database together,
    one of them migrating it), so it is retried; a database already in WAL is left alone."""
    import sqlite3

    deadline = time.monotonic() + wait_seconds
    delay = 0.01
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _require_workspace(conn: Connection, workspace_id: str) -> None:
    if conn.execute(select(workspaces.c.id).where(workspaces.c.id == workspace_id)).first() is None:
        raise NotFoundError(f"No workspace with id {workspace_id!r}.")


def redact_uri(uri: str) -> str:
    """The URI with any password replaced, for messages and listings."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", uri)


def _is_conflict(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        marker in text
        for marker in ("unique", "duplicate key", "database is locked", "deadlock", "serializ")
    )


# -- row -> record converters ---------------------------------------------------------------


def _workspace(row: Row) -> WorkspaceRecord:
    return WorkspaceRecord(row.id, row.name, row.created_at, json.loads(row.properties))


def _experiment(row: Row) -> ExperimentRecord:
    return ExperimentRecord(row.id, row.workspace_id, row.name, row.created_at, bool(row.archived))


def _run_query():
    return select(runs, experiments.c.name.label("experiment_name")).join(
        experiments, experiments.c.id == runs.c.experiment_id
    )


def _run(row: Row) -> RunRecord:
    return RunRecord(
        id=row.id,
        experiment_id=row.experiment_id,
        experiment_name=row.experiment_name,
        number=row.number,
        run_type=row.run_type,
        status=row.status,
        created_at=row.created_at,
        parent_id=row.parent_id,
        display_name=row.display_name,
        description=row.description,
        start_time=row.start_time,
        end_time=row.end_time,
        heartbeat_at=row.heartbeat_at,
        cancel_requested=bool(row.cancel_requested),
        tags=json.loads(row.tags),
        properties=json.loads(row.properties),
        error=json.loads(row.error) if row.error else None,
        definition=json.loads(row.definition) if row.definition else None,
    )


_STEP_RANGE = range(-(2**31), 2**31)  # the step column is a 32-bit INTEGER on PostgreSQL


def checked_step_and_time(p: MetricPoint) -> tuple[int | None, float]:
    """``p``'s step and timestamp as stored, or ValidationError where the store refuses
    them (RestStore checks the same before sending)."""
    step, ts = p.step, p.timestamp
    if step is not None and (type(step) is not int or step not in _STEP_RANGE):
        raise ValidationError(
            f"Metric {p.name!r}: step={step!r} must be a whole number between -2**31 and 2**31-1."
        )
    if type(ts) is not float:
        try:
            ts = float(ts)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"Metric {p.name!r}: timestamp={ts!r} is not a time.") from None
    return step, ts


def _point_row(series_id: int, idx: int, p: MetricPoint) -> tuple:
    value = p.value
    step, ts = checked_step_and_time(p)
    if type(value) is float and not math.isnan(value):  # SQLite stores NaN as NULL
        return (series_id, idx, step, value, None, ts)
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float keeps only its JSON
            number = None
    # Numbers keep a float column for charts and queries; anything that a float would not
    # give back exactly (ints, strings, structures) also keeps its JSON.
    return (series_id, idx, step, number, _dumps(value), ts)


def _metric(row: Row) -> MetricPoint:
    value = row.value if row.payload is None else json.loads(row.payload)
    return MetricPoint(row.name, value, row.kind, row.step, row.ts, row.description or "")


def _number(value: float | None, payload: str | None) -> float | None:
    """A stored point's value as a float, when it is a number (SQLite keeps NaN as NULL,
    with its JSON)."""
    if value is not None:
        return float(value)
    if payload is None:
        return None
    try:
        decoded = json.loads(payload)
    except ValueError:
        return None
    if isinstance(decoded, bool) or not isinstance(decoded, (int, float)):
        return None
    try:
        return float(decoded)
    except OverflowError:  # an int too large for a float
        return None


def _model(row: Row) -> ModelRecord:
    return ModelRecord(
        workspace_id=row.workspace_id,
        name=row.name,
        version=row.version,
        path=row.path,
        created_at=row.created_at,
        description=row.description,
        tags=json.loads(row.tags),
        properties=json.loads(row.properties),
        framework=row.framework,
        framework_version=row.framework_version,
        run_id=row.run_id,
        experiment_name=row.experiment_name,
        datasets=json.loads(row.datasets),
    )
