"""extraction provenance: where an item's language came from, which extractor gave its text,
and whether the page says it is free to read

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Plain ADD COLUMNs, nullable, as in 0005: no table rebuild. Existing items keep NULL: their
language was declared by the page, but nothing recorded it then.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("language_source", sa.String(length=8), nullable=True))
    op.add_column("items", sa.Column("extracted_by", sa.String(length=32), nullable=True))
    op.add_column("items", sa.Column("accessible_for_free", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "accessible_for_free")
    op.drop_column("items", "extracted_by")
    op.drop_column("items", "language_source")
