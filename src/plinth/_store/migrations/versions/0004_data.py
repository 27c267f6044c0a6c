"""datastores, datasets and run lineage; built-in datastores of existing workspaces

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen here rather than imported, so this revision does the same whatever the code becomes.
BUILTINS = (("workspaceblobstore", "AzureBlob", True), ("workspacefilestore", "AzureFile", False))


def upgrade() -> None:
    datastores = op.create_table(
        "datastores",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "name"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name", "version", name="uq_datasets_name_version"),
    )
    op.create_index("ix_datasets_workspace_name", "datasets", ["workspace_id", "name"])
    op.create_table(
        "run_datasets",
        sa.Column("run_id", sa.String(length=255), nullable=False),
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("run_id", "dataset_id", "name", "direction"),
    )
    op.create_index("ix_run_datasets_dataset", "run_datasets", ["dataset_id"])

    workspaces = sa.table("workspaces", sa.column("id"), sa.column("created_at"))
    for name, kind, is_default in BUILTINS:
        config = json.dumps({"builtin": True, "prefix": f"datastores/{name}"},
                            separators=(",", ":"))
        op.execute(
            sa.insert(datastores).from_select(
                ["workspace_id", "name", "kind", "config", "secrets", "is_default",
                 "created_at"],
                sa.select(
                    workspaces.c.id,
                    sa.literal(name),
                    sa.literal(kind),
                    sa.literal(config),
                    sa.literal("{}"),
                    sa.literal(is_default, sa.Boolean()),
                    workspaces.c.created_at,
                ),
            )
        )


def downgrade() -> None:
    op.drop_index("ix_run_datasets_dataset", table_name="run_datasets")
    op.drop_table("run_datasets")
    op.drop_index("ix_datasets_workspace_name", table_name="datasets")
    op.drop_table("datasets")
    op.drop_table("datastores")
