"""source health: skip reasons and discovery counts per crawl run; source states and alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Older runs keep NULL in the new columns: they say nothing about what discovery found, so
health baselines (storage/health.py) are learned from the runs after the upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, as in 0005 and 0006: no table rebuild.
    op.add_column("crawl_runs", sa.Column("skip_kinds", sa.JSON(), nullable=True))
    op.add_column("crawl_runs", sa.Column("discovered", sa.Integer(), nullable=True))
    op.add_column("crawl_runs", sa.Column("matched", sa.Integer(), nullable=True))
    op.create_table(
        "source_states",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id"),
    )
    op.create_table(
        "source_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert", "source_id", "event", "changed_at", name="uq_source_alert"),
    )
    op.create_index("ix_source_alerts_status_due", "source_alerts", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_source_alerts_status_due", table_name="source_alerts")
    op.drop_table("source_alerts")
    op.drop_table("source_states")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("matched")
        batch.drop_column("discovered")
        batch.drop_column("skip_kinds")
