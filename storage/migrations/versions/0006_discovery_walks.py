"""discovery walks: how far each walk got, backfill progress, alert message ids

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

No rows are created for existing sources: a source without one has not caught up, so its
first crawl after the upgrade walks everything once, without shortcuts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovery_walks",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("caught_up", sa.Boolean(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("caught_up_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "kind", "url"),
    )
    op.create_table(
        "backfills",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("since", sa.Text(), nullable=True),
        sa.Column("resume_url", sa.Text(), nullable=True),
        sa.Column("resume_page", sa.Integer(), nullable=True),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id"),
    )

    # A plain ADD COLUMN, as in 0005: no table rebuild.
    op.add_column("alert_deliveries", sa.Column("message_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("alert_deliveries", "message_id")
    op.drop_table("backfills")
    op.drop_table("discovery_walks")
