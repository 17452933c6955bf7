"""full-text search and the keyset sort index

SQLite: an FTS5 external-content table over items(title, text), kept in sync by triggers.
PostgreSQL: a generated tsvector column with a GIN index. Both: indexes on the listing sort key
(published date, else fetch date; then id), alone and per source, so deep pages are range scans.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

# The listing order, alone and per source (the common filter), so deep pages are range scans.
SORT_INDEXES = [
    "CREATE INDEX ix_items_sort_date ON items (coalesce(published_at, fetched_at), id)",
    "CREATE INDEX ix_items_source_sort_date"
    " ON items (source_id, coalesce(published_at, fetched_at), id)",
]

SQLITE_UP = [
    # unicode61 with diacritics folded: "Pakistan-US" indexes as "pakistan" "us".
    "CREATE VIRTUAL TABLE items_fts USING fts5("
    " title, text, content='items', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN"
    " INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text);"
    " END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, title, text)"
    " VALUES ('delete', old.id, old.title, old.text);"
    " END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, title, text)"
    " VALUES ('delete', old.id, old.title, old.text);"
    " INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text);"
    " END",
    # Index the rows stored before this revision.
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS items_fts_update",
    "DROP TRIGGER IF EXISTS items_fts_delete",
    "DROP TRIGGER IF EXISTS items_fts_insert",
    "DROP TABLE IF EXISTS items_fts",
]

# 'simple' (no stemming) so both engines match the same words; titles weigh more (A) than text.
POSTGRES_UP = [
    "ALTER TABLE items ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    " setweight(to_tsvector('simple', coalesce(title, '')), 'A') ||"
    " setweight(to_tsvector('simple', coalesce(text, '')), 'B')) STORED",
    "CREATE INDEX ix_items_search_vector ON items USING gin (search_vector)",
]

POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_items_search_vector",
    "ALTER TABLE items DROP COLUMN IF EXISTS search_vector",
]


def _statements(sqlite: list[str], postgres: list[str]) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite
    if dialect == "postgresql":
        return postgres
    raise NotImplementedError(f"newsmon supports SQLite and PostgreSQL, not {dialect}")


def upgrade() -> None:
    for statement in SORT_INDEXES:
        op.execute(statement)
    for statement in _statements(SQLITE_UP, POSTGRES_UP):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(SQLITE_DOWN, POSTGRES_DOWN):
        op.execute(statement)
    op.execute("DROP INDEX IF EXISTS ix_items_source_sort_date")
    op.execute("DROP INDEX IF EXISTS ix_items_sort_date")
