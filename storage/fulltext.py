"""Full-text search on the database's own engine: SQLite FTS5 (table `items_fts`, bm25, snippet())
or PostgreSQL (column `items.search_vector`, ts_rank_cd, ts_headline); see migration 0004.

The `search` filter of storage/filters.py: search_condition() filters (counts, stories), and
full_text() also ranks and cuts snippets for storage/search.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Double, Float, cast, column, func, literal_column, select, table

from storage.filters import QueryError
from storage.search_syntax import SearchSyntaxError, parse, to_fts5, to_tsquery
from storage.tables import items
from storage.text import MARK_END, MARK_START

# Snippets come back with the matches marked as storage/text.py marks them.
SNIPPET_TOKENS = 24
TITLE_WEIGHT, TEXT_WEIGHT = 5.0, 1.0


def full_text(dialect: str, search: str) -> tuple[Any, Any, Any, Any]:
    """(match condition, rank, snippet, join) for `search` on this database."""
    try:
        tree = parse(search)
    except SearchSyntaxError as error:
        raise QueryError(f"search syntax: {error}") from None
    if dialect == "sqlite":
        fts = table("items_fts", column("rowid"))
        target = literal_column("items_fts")
        match = target.op("MATCH")(to_fts5(tree))
        rank = func.bm25(target, TITLE_WEIGHT, TEXT_WEIGHT, type_=Float)
        snippet = func.snippet(target, -1, MARK_START, MARK_END, "…", SNIPPET_TOKENS)
        return match, rank, snippet, lambda s: s.join(fts, fts.c.rowid == items.c.id)
    if dialect == "postgresql":
        tsquery = func.to_tsquery("simple", to_tsquery(tree))
        vector = literal_column("items.search_vector")
        match = vector.op("@@")(tsquery)
        # Negated so that, as with bm25, lower ranks first. In double precision: a float4 rank
        # read into Python and compared again would not round-trip, and cursors would skip rows.
        rank = -cast(func.ts_rank_cd(vector, tsquery), Double)
        snippet = func.ts_headline(
            "simple",
            items.c.text,
            tsquery,
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, MinWords=15, MaxFragments=1",
        )
        return match, rank, snippet, None
    raise QueryError(f"full-text search needs SQLite or PostgreSQL, not {dialect}")


def search_condition(dialect: str, search: str) -> Any:
    """A WHERE condition: the item matches `search` (for counts, where no rank is needed)."""
    match, _rank, _snippet, _join = full_text(dialect, search)
    if dialect == "sqlite":
        return items.c.id.in_(select(column("rowid")).select_from(table("items_fts")).where(match))
    return match
