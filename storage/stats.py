"""Counts over stored items (per source, per keyword, per day) for `newsmon stats`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Engine, cast, distinct, exists, func, select

from storage.archive import ArchiveSize, archive_size
from storage.clock import to_utc
from storage.filters import ItemQuery, filter_conditions, item_date
from storage.fulltext import search_condition
from storage.search import validate_query
from storage.tables import items, keyword_matches, sources


@dataclass(frozen=True)
class SourceCount:
    name: str
    items: int
    flagged: int
    last_fetched: datetime | None


@dataclass
class Stats:
    total: int = 0
    flagged: int = 0
    sources: list[SourceCount] = field(default_factory=list)
    keywords: list[tuple[str, int]] = field(default_factory=list)
    days: list[tuple[str, int]] = field(default_factory=list)
    archive: ArchiveSize = field(default_factory=ArchiveSize)  # archived pages of these items

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "flagged": self.flagged,
            "sources": [
                {
                    "name": row.name,
                    "items": row.items,
                    "flagged": row.flagged,
                    "last_fetched": row.last_fetched.isoformat() if row.last_fetched else None,
                }
                for row in self.sources
            ],
            "keywords": [{"keyword": name, "items": count} for name, count in self.keywords],
            "days": [{"day": day, "items": count} for day, count in self.days],
            "archive": self.archive.as_dict(),
        }


def collect_stats(engine: Engine, query: ItemQuery | None = None, days: int = 14) -> Stats:
    """Counts of the items `query` selects; per day for the last `days`."""
    query = query or ItemQuery()
    validate_query(query)
    conditions = filter_conditions(query)
    if query.search:
        conditions.append(search_condition(engine.dialect.name, query.search))
    is_flagged = exists().where(keyword_matches.c.item_id == items.c.id)
    with engine.connect() as connection:
        per_source = connection.execute(
            select(
                sources.c.name,
                func.count(items.c.id),
                func.count(items.c.id).filter(is_flagged),
                func.max(items.c.fetched_at),
            )
            .join(items, items.c.source_id == sources.c.id)
            .where(*conditions)
            .group_by(sources.c.name)
            .order_by(func.count(items.c.id).desc(), sources.c.name)
        ).all()
        per_keyword = connection.execute(
            select(keyword_matches.c.keyword, func.count(distinct(keyword_matches.c.item_id)))
            .join(items, items.c.id == keyword_matches.c.item_id)
            .where(*conditions)
            .group_by(keyword_matches.c.keyword)
            .order_by(
                func.count(distinct(keyword_matches.c.item_id)).desc(), keyword_matches.c.keyword
            )
        ).all()
        day = item_day(engine.dialect.name)
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start -= timedelta(days=days - 1)
        per_day = connection.execute(
            select(day.label("day"), func.count(items.c.id))
            .where(*conditions, item_date() >= start)
            .group_by(day)
            .order_by(day.desc())
        ).all()
    source_counts = [SourceCount(name, n, f, _aware(last)) for name, n, f, last in per_source]
    return Stats(
        total=sum(row.items for row in source_counts),
        flagged=sum(row.flagged for row in source_counts),
        sources=source_counts,
        keywords=[(name, count) for name, count in per_keyword],
        days=[(_iso_day(value), count) for value, count in per_day],
        archive=archive_size(engine, conditions),
    )


def item_day(dialect: str) -> Any:
    """SQL: an item's UTC day (published, else fetched)."""
    if dialect == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS' text in UTC; date() keeps the day.
        return func.date(func.coalesce(items.c.published_at, items.c.fetched_at))
    return cast(func.coalesce(items.c.published_at, items.c.fetched_at), Date)


def _iso_day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    return to_utc(value)  # SQLite max() returns the stored text
