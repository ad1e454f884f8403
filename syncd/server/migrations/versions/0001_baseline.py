"""The schema of the first migrated release: every table as data directories had it.

A data directory from before migrations holds exactly this (``db.py`` stamps it), so
this revision is where both the new and the upgraded databases start.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("create_time", sa.String(), nullable=False),
        sa.Column("last_active_day", sa.String(), nullable=True),
        sa.Column("total_active_days", sa.BigInteger(), nullable=False),
        sa.Column("active_workspace_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tag"),
    )
    op.create_table(
        "backups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "blob_bytes",
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "blob_pins",
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_time", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("hash", "holder"),
    )
    op.create_table(
        "blobs",
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("refcount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_index(
        "blobs_unreferenced",
        "blobs",
        ["hash"],
        unique=False,
        sqlite_where=sa.text("refcount <= 0"),
        postgresql_where=sa.text("refcount <= 0"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("create_time", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("create_time", sa.String(), nullable=False),
        sa.Column("modified_time", sa.String(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("history_floor", sa.BigInteger(), nullable=False),
        sa.Column("deleted_time", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "entries",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column(
            "path", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("hash", sa.String(), nullable=True),
        sa.Column("modified_time", sa.String(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_revision", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
        ),
        sa.PrimaryKeyConstraint("workspace_id", "path"),
    )
    op.create_index("entries_by_revision", "entries", ["workspace_id", "revision"], unique=False)
    op.create_table(
        "tombstones",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column(
            "path", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("created_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
        ),
        sa.PrimaryKeyConstraint("workspace_id", "path", "revision"),
    )
    op.create_index(
        "tombstones_by_creation", "tombstones", ["workspace_id", "created_revision"], unique=False
    )
    op.create_index(
        "tombstones_by_revision", "tombstones", ["workspace_id", "revision"], unique=False
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column(
            "path", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=True),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.String(), nullable=False),
        sa.Column("expires_time", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("uploads")
    op.drop_index("tombstones_by_revision", table_name="tombstones")
    op.drop_index("tombstones_by_creation", table_name="tombstones")
    op.drop_table("tombstones")
    op.drop_index("entries_by_revision", table_name="entries")
    op.drop_table("entries")
    op.drop_table("workspaces")
    op.drop_table("api_keys")
    op.drop_index(
        "blobs_unreferenced",
        table_name="blobs",
        sqlite_where=sa.text("refcount <= 0"),
        postgresql_where=sa.text("refcount <= 0"),
    )
    op.drop_table("blobs")
    op.drop_table("blob_pins")
    op.drop_table("blob_bytes")
    op.drop_table("backups")
    op.drop_table("accounts")
