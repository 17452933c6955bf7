"""Item filters, declared once: the query, the CLI options, the API parameters and the search form.

Each `Filter` names an `ItemQuery` field and says what values it takes, its help text, and how it
becomes a WHERE condition. `filter_conditions` (used by search, stats and stories) turns a query
into SQL from this table; jobs/cli/query.py makes its click options from it and jobs/web/app.py
its query parameters and the search page's form mapping. tests/storage/test_filters.py holds
the four to each other. A new filter is one `Filter` here plus its `ItemQuery` field.

Nothing here imports SQLAlchemy at module level: the CLI builds its options from this table at
start-up, and commands that do not query should not pay for the SQL layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

DATE_FIELDS = ("item", "published", "fetched")


class QueryError(ValueError):
    """A query the caller got wrong: bad search syntax, a cursor from another query, a bad filter."""


@dataclass(frozen=True)
class ItemQuery:
    """Which items, in what order, and where to resume. Every field is optional.

    The filter fields are those of FILTERS below; the rest (VIEW_FIELDS) shape the page.
    """

    keyword: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    date_field: str = "item"  # item = published date, else fetch date
    language: str | None = None
    flagged: bool = False
    has_duplicates: bool = False
    access: str | None = None  # free | paid: the page's ld+json isAccessibleForFree
    collapse_duplicates: bool = False  # one row per story (storage/stories.py)
    search: str | None = None
    # newest | relevance: the default when searching (bm25 / ts_rank) or filtering on a keyword
    # (items the keyword hit in the title first, then newest first).
    sort: str | None = None
    limit: int = 50
    cursor: str | None = None

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.search or self.keyword else "newest")

    @property
    def cursor_kind(self) -> str:
        """What a cursor of this query holds: a date, a search rank, or (title hit, date)."""
        if self.effective_sort == "relevance" and not self.search:
            return "title"
        return self.effective_sort


# Fields of ItemQuery that are not filters: ordering, paging, and `items --collapse-duplicates`.
VIEW_FIELDS = ("collapse_duplicates", "sort", "limit", "cursor")

Where = Callable[[Any, ItemQuery], Any]


@dataclass(frozen=True)
class Filter:
    """One item filter. `name` is the ItemQuery field, the CLI option (--name-with-dashes) and
    the API parameter and form field (unless `web_name` differs)."""

    name: str
    kind: Literal["text", "date", "choice", "flag"]
    help: str
    # The WHERE condition for a set value; None when the filter has none of its own (the full
    # text search ranks as well as filters: storage/fulltext.py; date_field steers since/until).
    where: Where | None = None
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    default: str | bool | None = None
    web_name: str | None = None
    # For the web, when it reads other values than the CLI (dates: ISO only, no "7d").
    web_help: str | None = None
    on_search_page: bool = False  # a field of the search page's form (jobs/web/templates)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def parameter(self) -> str:
        return self.web_name or self.name


def item_date() -> Any:
    """An item's date: published, else fetched."""
    from sqlalchemy import func

    from storage.tables import UTCDateTime, items

    return func.coalesce(items.c.published_at, items.c.fetched_at, type_=UTCDateTime)


def _keyword(value: str, _query: ItemQuery) -> Any:
    from sqlalchemy import select

    from storage.tables import items, keyword_matches

    return items.c.id.in_(
        select(keyword_matches.c.item_id).where(keyword_matches.c.keyword == value)
    )


def _source(value: str, _query: ItemQuery) -> Any:
    from sqlalchemy import select

    from storage.tables import items, sources

    return (
        items.c.source_id == select(sources.c.id).where(sources.c.name == value).scalar_subquery()
    )


def _dated(query: ItemQuery) -> Any:
    from storage.tables import items

    if query.date_field == "published":
        return items.c.published_at
    if query.date_field == "fetched":
        return items.c.fetched_at
    return item_date()


def _since(value: datetime, query: ItemQuery) -> Any:
    return _dated(query) >= value


def _until(value: datetime, query: ItemQuery) -> Any:
    return _dated(query) < value


def _language(value: str, _query: ItemQuery) -> Any:
    from sqlalchemy import func, or_

    from storage.tables import items

    # Stored tags vary in case and region ("en", "en-GB"): match the language part.
    language = value.lower()
    stored = func.lower(items.c.language)
    return or_(stored == language, stored.startswith(f"{language}-", autoescape=True))


def _access(value: str, _query: ItemQuery) -> Any:
    from storage.tables import items

    return items.c.accessible_for_free.is_(value == "free")


def _flagged(_value: bool, _query: ItemQuery) -> Any:
    from sqlalchemy import exists

    from storage.tables import items, keyword_matches

    return exists().where(keyword_matches.c.item_id == items.c.id)


def _has_duplicates(_value: bool, _query: ItemQuery) -> Any:
    """Items that duplicate another item or that another item duplicates."""
    from sqlalchemy import exists, or_

    from storage.tables import items

    other = items.alias("other")
    return or_(
        items.c.duplicate_of.is_not(None), exists().where(other.c.duplicate_of == items.c.id)
    )


FILTERS: tuple[Filter, ...] = (
    Filter(
        "search",
        "text",
        'Full text: words, "a phrase", prefix*, AND/OR/NOT.',
        metavar="QUERY",
        web_name="q",
        on_search_page=True,
    ),
    Filter(
        "keyword",
        "text",
        "Only items flagged for this keyword rule.",
        _keyword,
        metavar="NAME",
        on_search_page=True,
    ),
    Filter(
        "source",
        "text",
        "Only items from this source.",
        _source,
        metavar="NAME",
        on_search_page=True,
    ),
    Filter(
        "since",
        "date",
        "At or after: 2025-07-25, or 7d ago.",
        _since,
        metavar="DATE",
        web_help="At or after this ISO date or datetime (UTC if no zone).",
        on_search_page=True,
    ),
    Filter(
        "until",
        "date",
        "Before this date.",
        _until,
        metavar="DATE",
        web_help="Before this ISO date or datetime (UTC if no zone).",
        on_search_page=True,
    ),
    Filter(
        "date_field",
        "choice",
        "Which date --since/--until test; item = published, else fetched.",
        choices=DATE_FIELDS,
        default="item",
        web_help="Which date since/until test; item = published, else fetched.",
    ),
    Filter(
        "language",
        "text",
        "Only items in this language (en, ur).",
        _language,
        metavar="CODE",
        on_search_page=True,
    ),
    Filter(
        "flagged",
        "flag",
        "Only items that matched some keyword.",
        _flagged,
        default=False,
        on_search_page=True,
    ),
    Filter(
        "has_duplicates",
        "flag",
        "Only items in a near-duplicate group.",
        _has_duplicates,
        default=False,
    ),
    Filter(
        "access",
        "choice",
        "Only items the page marks free or paid (ld+json isAccessibleForFree).",
        _access,
        choices=("free", "paid"),
    ),
)

_QUERY_FIELDS = [field.name for field in fields(ItemQuery)]
if sorted(_QUERY_FIELDS) != sorted([*(f.name for f in FILTERS), *VIEW_FIELDS]):
    raise AssertionError("every ItemQuery field is a filter of FILTERS or one of VIEW_FIELDS")


def filter_conditions(query: ItemQuery) -> list[Any]:
    """WHERE conditions for every filter of `query` except the full-text search."""
    conditions: list[Any] = []
    for item_filter in FILTERS:
        value = getattr(query, item_filter.name)
        if item_filter.where is not None and value:
            conditions.append(item_filter.where(value, query))
    return conditions
