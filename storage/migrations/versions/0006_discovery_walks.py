"""discovery walks: how far each walk got, backfill progress, alert message ids; URL keys
without secrets

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

No rows are created for existing sources: a source without one has not caught up, so its
first crawl after the upgrade walks everything once, without shortcuts.

A discovery URL may carry an api_key, and http_validators was keyed by the URL itself: it is
rebuilt keyed by the URL's digest, keeping the URL only redacted (storage/urlkeys.py), in
chunks, so a large table is never held in memory. discovery_walks is made that way.
"""

import sqlalchemy as sa
from alembic import op

from storage.urlkeys import redact_url, url_digest

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovery_walks",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url_digest", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("caught_up", sa.Boolean(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("caught_up_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "kind", "url_digest"),
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
    _key_validators_by_digest()


CHUNK = 1000


def _validators_table(name: str, *key: sa.Column) -> sa.Table:
    return op.create_table(
        name,
        *key,
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
    )


def _key_validators_by_digest() -> None:
    connection = op.get_bind()
    new = _validators_table(
        "http_validators_new",
        sa.Column("url_digest", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("url_digest", name="http_validators_new_pkey"),
    )
    old = sa.table(
        "http_validators",
        *map(sa.column, ("url", "etag", "last_modified", "body_hash", "status")),
        sa.column("checked_at", sa.DateTime()),  # typed: read and written back as a datetime
    )
    last = None
    while True:  # keyset pagination: the same on both databases, a chunk at a time
        statement = sa.select(old).order_by(old.c.url).limit(CHUNK)
        if last is not None:
            statement = statement.where(old.c.url > last)
        rows = connection.execute(statement).mappings().all()
        if not rows:
            break
        connection.execute(
            new.insert(),
            [
                {**row, "url_digest": url_digest(row["url"]), "url": redact_url(row["url"])}
                for row in rows
            ],
        )
        last = rows[-1]["url"]
    op.drop_table("http_validators")
    op.rename_table("http_validators_new", "http_validators")
    if connection.dialect.name == "postgresql":  # its constraint keeps its own name otherwise
        op.execute("ALTER INDEX http_validators_new_pkey RENAME TO http_validators_pkey")


def downgrade() -> None:
    # Validators are a cache, and a digest cannot be turned back into its URL: they go.
    op.drop_table("http_validators")
    _validators_table(
        "http_validators",
        sa.Column("url", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
    op.drop_column("alert_deliveries", "message_id")
    op.drop_table("backfills")
    op.drop_table("discovery_walks")
