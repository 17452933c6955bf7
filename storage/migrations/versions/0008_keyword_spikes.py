"""keyword spikes: which spike each alert channel was told of

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

A new table; nothing existing changes. A channel with `on: [keyword_spike]` starts with no
open spike, so its first pass after the upgrade alerts a spike already under way once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keyword_spikes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert", sa.String(length=64), nullable=False),
        sa.Column("keyword", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_keyword_spikes_alert_keyword", "keyword_spikes", ["alert", "keyword", "ended_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_keyword_spikes_alert_keyword", table_name="keyword_spikes")
    op.drop_table("keyword_spikes")
