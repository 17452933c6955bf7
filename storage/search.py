"""Searching and filtering stored items, one page at a time: the query API every front end uses.

Pages use keyset cursors (the sort key and id of the last row, opaque to callers), so page 1,000
costs what page 1 costs. Full-text search runs on the database's own engine: SQLite FTS5 (table
`items_fts`, bm25 ranking, snippet()) or PostgreSQL (column `items.search_vector`, ts_rank_cd,
ts_headline); see migration 0004.

Core only (storage/tables.py), no ORM: results are plain StoredItem rows, and `newsmon items`
starts without loading the ORM.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Engine,
    Float,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from storage.clock import to_utc
from storage.filters import DATE_FIELDS, ItemQuery, QueryError, filter_conditions, item_date
from storage.fulltext import full_text, search_condition
from storage.stories import first_of_story
from storage.tables import UTCDateTime, items, keyword_matches, sources
from storage.text import MARK_END, MARK_START, SNIPPET_CONTEXT, snippet, spans_snippet

# Public here too: the query API's callers import these from storage.search.
__all__ = [
    "MARK_END",
    "MARK_START",
    "Hit",
    "ItemQuery",
    "Match",
    "Page",
    "QueryError",
    "StoredItem",
    "decode_cursor",
    "encode_cursor",
    "filter_conditions",
    "get_item",
    "item_date",
    "iter_items",
    "list_keywords",
    "list_sources",
    "search_condition",
    "search_items",
    "validate_query",
]

SORTS = ("newest", "relevance")
MAX_PAGE = 1000
MAX_ITEM_ID = 2**31 - 1  # items.id is a 32-bit INTEGER on PostgreSQL


@dataclass(frozen=True)
class Match:
    """Where a keyword rule hit an item: offsets into its title or text."""

    keyword: str
    field: str  # title | text
    start: int
    end: int
    snippet: str


@dataclass(frozen=True)
class StoredItem:
    """One stored article with its source's name and its keyword matches (in stored order)."""

    id: int
    source_name: str
    url: str
    title: str | None
    author: str | None
    published_at: datetime | None
    date_source: str | None
    fetched_at: datetime
    language: str | None
    site_name: str | None
    canonical_url: str | None
    text: str
    duplicate_of: int | None = None
    language_source: str | None = None
    extracted_by: str | None = None
    accessible_for_free: bool | None = None
    matches: tuple[Match, ...] = ()

    @property
    def keywords(self) -> list[str]:
        """The keyword rules that matched, each once, sorted."""
        return sorted({match.keyword for match in self.matches})

    def context(self, match: Match) -> str:
        """The match in its field as storage/text.py renders it, between MARK_START and
        MARK_END: what `newsmon show` and the web view print."""
        return snippet(self._field(match.field), match.start, match.end, marked=True)

    def shared_contexts(self) -> list[tuple[str, list[str]]]:
        """Each context once, title first: matches close together in a field (of one rule or
        several) share one, every match marked; with the rules that matched there."""
        groups: list[tuple[str, int, list[Match]]] = []  # (field, end, matches)
        ordered = sorted(self.matches, key=lambda m: (m.field != "title", m.field, m.start))
        for match in ordered:
            if (
                groups
                and groups[-1][0] == match.field
                and match.start <= groups[-1][1] + SNIPPET_CONTEXT
            ):
                field_name, end, members = groups[-1]
                groups[-1] = (field_name, max(end, match.end), [*members, match])
            else:
                groups.append((match.field, match.end, [match]))
        return [
            (
                spans_snippet(self._field(name), [(m.start, m.end) for m in members], marked=True),
                sorted({m.keyword for m in members}),
            )
            for name, _, members in groups
        ]

    def _field(self, name: str) -> str:
        return (self.title or "") if name == "title" else self.text


@dataclass
class Hit:
    item: StoredItem
    snippet: str | None = None  # with MARK_START/MARK_END around matched words
    rank: float | None = None  # lower is better


@dataclass
class Page:
    hits: list[Hit] = field(default_factory=list)
    next_cursor: str | None = None

    @property
    def items(self) -> list[StoredItem]:
        return [hit.item for hit in self.hits]


def search_items(engine: Engine, query: ItemQuery) -> Page:
    """One page of items matching `query`; `next_cursor` is None on the last page."""
    validate_query(query)
    with engine.connect() as connection:
        statement = _page_statement(engine.dialect.name, query)
        try:
            rows = connection.execute(statement.limit(query.limit + 1)).all()
        except (OperationalError, ProgrammingError) as error:
            reason = str(error.orig)  # str(error) would include the SQL text
            if "no such table" in reason or "search_vector" in reason:
                raise QueryError(
                    "the database lacks the newsmon schema or its search index:"
                    " run `newsmon db upgrade`"
                ) from None
            # The rendered query is quoted term by term, so this is a bug or an engine limit;
            # still a message, not a traceback.
            if "fts5" in reason or "tsquery" in reason:
                raise QueryError(f"the search engine refused the query: {reason}") from None
            raise
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        ids = [row.id for row in rows]
        loaded = _load_items(connection, ids)
        snippets = _snippets(connection, engine.dialect.name, query.search, ids)
    hits = [Hit(loaded[row.id], snippets.get(row.id), row.rank) for row in rows if row.id in loaded]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        key = (last.title_rank, last.sort_key) if query.cursor_kind == "title" else last.sort_key
        next_cursor = encode_cursor(query.cursor_kind, key, last.id)
    return Page(hits, next_cursor)


def get_item(engine: Engine, item_id: int) -> StoredItem | None:
    """One item by id, or None; QueryError for an id no database could hold."""
    if not 1 <= item_id <= MAX_ITEM_ID:
        raise QueryError(f"an item id is a whole number from 1 to {MAX_ITEM_ID}")
    with engine.connect() as connection:
        return _load_items(connection, [item_id]).get(item_id)


def iter_items(engine: Engine, query: ItemQuery, page_size: int = 500) -> Iterator[Hit]:
    """Every item matching `query`, page by page: memory stays bounded by `page_size`."""
    query = replace(query, limit=page_size)
    while True:
        page = search_items(engine, query)
        yield from page.hits
        if page.next_cursor is None:
            return
        query = replace(query, cursor=page.next_cursor)


def encode_cursor(kind: str, key: Any, item_id: int) -> str:
    if isinstance(key, datetime):
        key = key.isoformat()
    elif isinstance(key, tuple):  # (title rank, date)
        key = [key[0], key[1].isoformat()]
    raw = json.dumps([kind, key, item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected_kind: str) -> tuple[Any, int]:
    """The (sort key, id) a cursor resumes after; QueryError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, key, item_id = json.loads(raw)
        if kind != expected_kind or not isinstance(item_id, int):
            raise ValueError
        if kind == "newest":
            key = to_utc(key)
        elif kind == "title":
            title_rank, date = key
            if title_rank not in (0, 1):
                raise ValueError
            key = (title_rank, to_utc(date))
        elif not isinstance(key, int | float) or not math.isfinite(key):
            raise ValueError
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise QueryError(
            "invalid cursor: pass the next cursor of the same query unchanged"
        ) from None
    return key, item_id


def list_sources(engine: Engine) -> list[dict[str, Any]]:
    """Every source with its item count, for pickers and /api/sources."""
    counts = (
        select(items.c.source_id, func.count(items.c.id).label("item_count"))
        .group_by(items.c.source_id)
        .subquery()
    )
    statement = (
        select(sources.c.name, sources.c.mode, sources.c.url, func.coalesce(counts.c.item_count, 0))
        .outerjoin(counts, counts.c.source_id == sources.c.id)
        .order_by(sources.c.name)
    )
    with engine.connect() as connection:
        return [
            {"name": name, "mode": mode, "url": url, "items": count}
            for name, mode, url, count in connection.execute(statement)
        ]


def list_keywords(engine: Engine) -> list[str]:
    """Every keyword rule that has matched some item."""
    statement = select(keyword_matches.c.keyword).distinct().order_by(keyword_matches.c.keyword)
    with engine.connect() as connection:
        return list(connection.scalars(statement))


def validate_query(query: ItemQuery) -> None:
    for name, when in (("since", query.since), ("until", query.until)):
        if when is None:
            continue
        try:
            to_utc(when)
        except OverflowError:
            raise QueryError(
                f"{name}: {when.isoformat()} is outside the years 1 to 9999 in UTC"
            ) from None
    if query.date_field not in DATE_FIELDS:
        raise QueryError(f"date field must be one of {', '.join(DATE_FIELDS)}")
    if query.effective_sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}")
    if query.effective_sort == "relevance" and not (query.search or query.keyword):
        raise QueryError("sorting by relevance needs a search or a keyword")
    if not 1 <= query.limit <= MAX_PAGE:
        raise QueryError(f"limit must be between 1 and {MAX_PAGE}")


def _page_statement(dialect: str, query: ItemQuery) -> Any:
    """SELECT id, sort key, rank for one page (plus one row to see if more follow)."""
    sort = query.effective_sort
    conditions = filter_conditions(query)
    if query.collapse_duplicates:
        conditions.append(first_of_story(dialect, query))
    if sort == "newest":
        if query.search:
            # An id set, not a join: the date index then drives and stops at the page's end.
            conditions.append(search_condition(dialect, query.search))
        return _newest_page(query, conditions)
    if not query.search:
        return _title_hits_first_page(query, conditions)
    match, rank, _snippet, join = full_text(dialect, query.search or "")
    if join is not None and not conditions:
        # Ranking alone needs no item row: rank inside the FTS table, skip the join.
        fts = table("items_fts", column("rowid"))
        statement = select(fts.c.rowid.label("id"), rank.label("sort_key"), rank.label("rank"))
        statement = statement.select_from(fts).where(match)
        item_id = fts.c.rowid
    else:
        statement = select(items.c.id, rank.label("sort_key"), rank.label("rank")).select_from(
            items
        )
        if join is not None:
            statement = join(statement)
        statement = statement.where(match, *conditions)
        item_id = items.c.id
    # Lower rank first; ties broken by id so the keyset order is total.
    if query.cursor:
        key, after_id = decode_cursor(query.cursor, sort)
        statement = statement.where(tuple_(rank, item_id) > tuple_(literal(key), after_id))
    return statement.order_by(rank, item_id)


def _newest_page(query: ItemQuery, conditions: list[Any]) -> Any:
    sort_key = item_date()
    statement = select(
        items.c.id, sort_key.label("sort_key"), cast(null(), Float).label("rank")
    ).where(*conditions)
    if query.cursor:
        key, item_id = decode_cursor(query.cursor, "newest")
        after = literal(key, UTCDateTime)
        # (date, id) < (key, id) spelt so that SQLite range-scans the date index: a row
        # value over an expression index is only filtered, which made deep pages slow.
        statement = statement.where(sort_key <= after, or_(sort_key < after, items.c.id < item_id))
    return statement.order_by(sort_key.desc(), items.c.id.desc())


def _title_hits_first_page(query: ItemQuery, conditions: list[Any]) -> Any:
    """Items flagged for `query.keyword`: those it hit in the title first, each group newest
    first (the keyword filter is among `conditions`)."""
    title_hit = exists().where(
        keyword_matches.c.item_id == items.c.id,
        keyword_matches.c.keyword == query.keyword,
        keyword_matches.c.field == "title",
    )
    title_rank = case((title_hit, 0), else_=1)
    sort_key = item_date()
    statement = select(
        items.c.id,
        title_rank.label("title_rank"),
        sort_key.label("sort_key"),
        cast(null(), Float).label("rank"),
    ).where(*conditions)
    if query.cursor:
        (after_rank, after_date), after_id = decode_cursor(query.cursor, "title")
        after = literal(after_date, UTCDateTime)
        statement = statement.where(
            or_(
                title_rank > after_rank,
                and_(
                    title_rank == after_rank,
                    or_(sort_key < after, and_(sort_key == after, items.c.id < after_id)),
                ),
            )
        )
    return statement.order_by(title_rank, sort_key.desc(), items.c.id.desc())


def _snippets(
    connection: Connection, dialect: str, search: str | None, ids: list[int]
) -> dict[int, str]:
    """Snippets for one page only: computed in the page query they would run for every match."""
    if not search or not ids:
        return {}
    match, _rank, cut, join = full_text(dialect, search)
    statement = select(items.c.id, cut).select_from(items)
    if join is not None:
        statement = join(statement)
    statement = statement.where(match, items.c.id.in_(ids))
    return {item_id: text for item_id, text in connection.execute(statement)}


_ITEM_COLUMNS = [
    items.c.id,
    sources.c.name.label("source_name"),
    items.c.url,
    items.c.title,
    items.c.author,
    items.c.published_at,
    items.c.date_source,
    items.c.fetched_at,
    items.c.language,
    items.c.site_name,
    items.c.canonical_url,
    items.c.text,
    items.c.duplicate_of,
    items.c.language_source,
    items.c.extracted_by,
    items.c.accessible_for_free,
]
_MATCH_COLUMNS = [
    keyword_matches.c.item_id,
    keyword_matches.c.keyword,
    keyword_matches.c.field,
    keyword_matches.c.start,
    keyword_matches.c.end,
    keyword_matches.c.snippet,
]


def _load_items(connection: Connection, ids: list[int]) -> dict[int, StoredItem]:
    """The items with these ids, with source name and matches: two queries for any page."""
    if not ids:
        return {}
    matches: dict[int, list[Match]] = {}
    for item_id, *values in connection.execute(
        select(*_MATCH_COLUMNS)
        .where(keyword_matches.c.item_id.in_(ids))
        .order_by(keyword_matches.c.id)
    ):
        matches.setdefault(item_id, []).append(Match(*values))
    statement = (
        select(*_ITEM_COLUMNS)
        .join(sources, sources.c.id == items.c.source_id)
        .where(items.c.id.in_(ids))
    )
    return {
        row.id: StoredItem(**row._asdict(), matches=tuple(matches.get(row.id, ())))
        for row in connection.execute(statement)
    }
