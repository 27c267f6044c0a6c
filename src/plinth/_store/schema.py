"""Tables of the SQL store. Alembic migrations in ``migrations/`` create and evolve them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("properties", Text, nullable=False, default="{}"),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "workspace_id", String(64), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("next_run_number", Integer, nullable=False, default=1),
    UniqueConstraint("workspace_id", "name", name="uq_experiments_workspace_name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(255), primary_key=True),
    Column(
        "experiment_id",
        String(64),
        ForeignKey("experiments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("parent_id", String(255), nullable=True),
    Column("run_type", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("display_name", String(255), nullable=True),
    Column("description", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("start_time", Float, nullable=True),
    Column("end_time", Float, nullable=True),
    Column("heartbeat_at", Float, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("tags", Text, nullable=False, default="{}"),
    Column("properties", Text, nullable=False, default="{}"),
    Column("error", Text, nullable=True),
    Column("definition", Text, nullable=True),
    UniqueConstraint("experiment_id", "number", name="uq_runs_experiment_number"),
    Index("ix_runs_experiment_created", "experiment_id", "created_at"),
    Index("ix_runs_parent", "parent_id"),
    Index("ix_runs_status", "status"),
)

metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(255), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("count", Integer, nullable=False, default=0),
    UniqueConstraint("run_id", "name", "kind", name="uq_metric_series_run_name_kind"),
)

# One narrow row per point, clustered by (series, position): the primary key is the only
# index, so a batch of points appends to one B-tree (SQLite stores it WITHOUT ROWID).
metric_points = Table(
    "metric_points",
    metadata,
    Column(
        "series_id",
        Integer,
        ForeignKey("metric_series.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("step", Integer, nullable=True),
    Column("value", Float, nullable=True),
    Column("payload", Text, nullable=True),
    Column("ts", Float, nullable=False),
    sqlite_with_rowid=False,
)

models = Table(
    "models",
    metadata,
    Column(
        "workspace_id", String(64), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("description", Text, nullable=True),
    Column("tags", Text, nullable=False, default="{}"),
    Column("properties", Text, nullable=False, default="{}"),
    Column("framework", String(64), nullable=True),
    Column("framework_version", String(64), nullable=True),
    Column("run_id", String(255), nullable=True),
    Column("experiment_name", String(255), nullable=True),
    Column("datasets", Text, nullable=False, default="[]"),
    UniqueConstraint("workspace_id", "name", "version", name="uq_models_name_version"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("kind", String(32), nullable=False, default="user"),
    Column("secret_hash", String(255), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(32), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

secrets = Table(
    "secrets",
    metadata,
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(255), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

datastores = Table(
    "datastores",
    metadata,
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("config", Text, nullable=False, default="{}"),
    Column("secrets", Text, nullable=False, default="{}"),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

# Unregistered versions keep their name and number, so numbers are never given out again.
datasets = Table(
    "datasets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "workspace_id", String(64), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=True),
    Column("version", Integer, nullable=True),
    Column("kind", String(64), nullable=False),
    Column("definition", Text, nullable=False),
    Column("fingerprint", Text, nullable=False, default="{}"),
    Column("description", Text, nullable=True),
    Column("tags", Text, nullable=False, default="{}"),
    Column("registered", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("workspace_id", "name", "version", name="uq_datasets_name_version"),
    Index("ix_datasets_workspace_name", "workspace_id", "name"),
)

run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", String(255), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("dataset_id", String(64), ForeignKey("datasets.id"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("direction", String(16), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_run_datasets_dataset", "dataset_id"),
)

# Registered environment versions; ``digest`` identifies the normalised package spec, so
# registering an unchanged definition again keeps the latest version.
environments = Table(
    "environments",
    metadata,
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(128), nullable=False),
    Column("definition", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Index("ix_environments_workspace_name", "workspace_id", "name"),
)

# Compute targets of a workspace: ``config`` holds a target's settings (JSON), ``state`` its
# azureml provisioning state.
computes = Table(
    "computes",
    metadata,
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(24), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("config", Text, nullable=False, default="{}"),
    Column("state", String(32), nullable=False, default="Succeeded"),
    Column("created_at", Float, nullable=False),
)

# Pipelines. A published pipeline's ``graph`` is self-contained JSON; an endpoint's
# ``pipeline_ids`` is the JSON list of its versions' pipelines (version i is item i).
published_pipelines = Table(
    "published_pipelines",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "workspace_id", String(64), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("version", String(255), nullable=True),
    Column("graph", Text, nullable=False),
    Column("continue_on_step_failure", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False, default="Active"),
    Column("created_at", Float, nullable=False),
    Index("ix_published_pipelines_workspace_created", "workspace_id", "created_at"),
)

pipeline_endpoints = Table(
    "pipeline_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "workspace_id", String(64), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("pipeline_ids", Text, nullable=False, default="[]"),
    Column("default_version", String(16), nullable=False, default="0"),
    Column("status", String(16), nullable=False, default="Active"),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_pipeline_endpoints_workspace_name"),
)

# ``next_fire_at`` is stored exactly as given: the scheduler's compare-and-set matches it.
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "workspace_id", String(64), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=False),
    Column(
        "pipeline_id",
        String(64),
        ForeignKey("published_pipelines.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("experiment_name", String(255), nullable=False),
    Column("recurrence", Text, nullable=True),
    Column("datastore", String(255), nullable=True),
    Column("path_on_datastore", Text, nullable=True),
    Column("polling_interval", Float, nullable=False, default=5.0),
    Column("data_path_parameter_name", String(255), nullable=True),
    Column("pipeline_parameters", Text, nullable=False, default="{}"),
    Column("description", Text, nullable=True),
    Column("status", String(16), nullable=False, default="Active"),
    Column("next_fire_at", Float, nullable=True),
    Column("data_state", Text, nullable=True),
    Column("last_fired_at", Float, nullable=True),
    Column("last_run_id", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_schedules_next_fire_at", "next_fire_at"),
    Index("ix_schedules_workspace_created", "workspace_id", "created_at"),
    Index("ix_schedules_pipeline", "pipeline_id"),
)

# Step reuse: the run that last produced a step with this fingerprint (one row per step).
step_results = Table(
    "step_results",
    metadata,
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("fingerprint", String(255), primary_key=True),
    Column("run_id", String(255), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_step_results_run", "run_id"),
)

# Web services of a workspace. ``config``, ``models``, ``inference``, ``error``, ``tags`` and
# ``properties`` are JSON; ``pid``/``host`` name the process that serves it.
services = Table(
    "services",
    metadata,
    Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False, default="Transitioning"),
    Column("config", Text, nullable=False, default="{}"),
    Column("models", Text, nullable=False, default="[]"),
    Column("inference", Text, nullable=False, default="{}"),
    Column("scoring_uri", Text, nullable=True),
    Column("swagger_uri", Text, nullable=True),
    Column("host", Text, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("tags", Text, nullable=False, default="{}"),
    Column("properties", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
