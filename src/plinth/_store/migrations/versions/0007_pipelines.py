"""published pipelines, pipeline endpoints, schedules and step results

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_pipelines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("graph", sa.Text(), nullable=False),
        sa.Column("continue_on_step_failure", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_published_pipelines_workspace_created",
        "published_pipelines",
        ["workspace_id", "created_at"],
    )
    op.create_table(
        "pipeline_endpoints",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("pipeline_ids", sa.Text(), nullable=False),
        sa.Column("default_version", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_pipeline_endpoints_workspace_name"),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("pipeline_id", sa.String(length=64), nullable=False),
        sa.Column("experiment_name", sa.String(length=255), nullable=False),
        sa.Column("recurrence", sa.Text(), nullable=True),
        sa.Column("datastore", sa.String(length=255), nullable=True),
        sa.Column("path_on_datastore", sa.Text(), nullable=True),
        sa.Column("polling_interval", sa.Float(), nullable=False),
        sa.Column("data_path_parameter_name", sa.String(length=255), nullable=True),
        sa.Column("pipeline_parameters", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_fire_at", sa.Float(), nullable=True),
        sa.Column("data_state", sa.Text(), nullable=True),
        sa.Column("last_fired_at", sa.Float(), nullable=True),
        sa.Column("last_run_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["published_pipelines.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_schedules_next_fire_at", "schedules", ["next_fire_at"])
    op.create_index(
        "ix_schedules_workspace_created", "schedules", ["workspace_id", "created_at"]
    )
    op.create_index("ix_schedules_pipeline", "schedules", ["pipeline_id"])
    op.create_table(
        "step_results",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "fingerprint"),
    )
    op.create_index("ix_step_results_run", "step_results", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_step_results_run", table_name="step_results")
    op.drop_table("step_results")
    op.drop_index("ix_schedules_pipeline", table_name="schedules")
    op.drop_index("ix_schedules_workspace_created", table_name="schedules")
    op.drop_index("ix_schedules_next_fire_at", table_name="schedules")
    op.drop_table("schedules")
    op.drop_table("pipeline_endpoints")
    op.drop_index(
        "ix_published_pipelines_workspace_created", table_name="published_pipelines"
    )
    op.drop_table("published_pipelines")
