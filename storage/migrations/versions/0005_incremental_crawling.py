"""incremental crawling: HTTP validators, item versions, near-duplicate signatures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "http_validators",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
    op.create_table(
        "item_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "version", name="uq_item_version"),
    )
    op.create_table(
        "signatures",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_table(
        "signature_bands",
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band", "hash", "item_id"),
    )
    op.create_index("ix_signature_bands_item", "signature_bands", ["item_id"])
    # A plain ADD COLUMN: rebuilding `items` (batch mode) would drop its full-text triggers.
    op.add_column("items", sa.Column("duplicate_of", sa.Integer(), nullable=True))
    op.create_index("ix_items_duplicate_of", "items", ["duplicate_of"])


def downgrade() -> None:
    op.drop_index("ix_items_duplicate_of", table_name="items")
    op.drop_column("items", "duplicate_of")
    op.drop_index("ix_signature_bands_item", table_name="signature_bands")
    op.drop_table("signature_bands")
    op.drop_table("signatures")
    op.drop_table("item_versions")
    op.drop_table("http_validators")
