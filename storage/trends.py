"""Flagged items per keyword rule over time: the data behind the dashboard's charts,
`newsmon stats --chart` and spike detection. An item counts on its date (published, else
fetched), as everywhere else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, distinct, func, select

from storage.clock import to_utc, utcnow
from storage.filters import item_date
from storage.stats import item_day
from storage.tables import items, keyword_matches, sources


@dataclass(frozen=True)
class DayCount:
    """One day of one rule: flagged items by source."""

    day: date
    by_source: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_source.values())


@dataclass(frozen=True)
class Trend:
    """One rule's flagged items per day, oldest first, every day of the period (0 included)."""

    keyword: str
    days: list[DayCount]

    @property
    def counts(self) -> list[int]:
        return [day.total for day in self.days]

    @property
    def sources(self) -> list[str]:
        """Every source in the period, most items first: the chart's stacking order."""
        totals: dict[str, int] = {}
        for day in self.days:
            for name, count in day.by_source.items():
                totals[name] = totals.get(name, 0) + count
        return sorted(totals, key=lambda name: (-totals[name], name))


def flagged_per_day(
    engine: Engine, days: int, keyword: str | None = None, today: date | None = None
) -> list[Trend]:
    """Per rule (or only `keyword`), flagged items per day and source for the `days` up to
    `today`; every rule that ever matched gets a trend, a quiet one all zeros."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(), tzinfo=UTC)
    day = item_day(engine.dialect.name)
    statement = (
        select(keyword_matches.c.keyword, day, sources.c.name, func.count(distinct(items.c.id)))
        .join(items, items.c.id == keyword_matches.c.item_id)
        .join(sources, sources.c.id == items.c.source_id)
        .where(item_date() >= start)
        .group_by(keyword_matches.c.keyword, day, sources.c.name)
    )
    names = select(keyword_matches.c.keyword).distinct()
    if keyword is not None:
        statement = statement.where(keyword_matches.c.keyword == keyword)
        names = names.where(keyword_matches.c.keyword == keyword)
    counts: dict[tuple[str, date], dict[str, int]] = {}
    with engine.connect() as connection:
        rules = sorted(connection.scalars(names))
        for rule, value, source, count in connection.execute(statement):
            counts.setdefault((rule, _as_date(value)), {})[source] = count
    period = [first + timedelta(days=n) for n in range(days)]
    return [
        Trend(rule, [DayCount(each, counts.get((rule, each), {})) for each in period])
        for rule in rules
    ]


def flagged_dates(engine: Engine, keyword: str, since: datetime) -> list[datetime]:
    """The dates of the items `keyword` flagged since `since` (one per item), oldest first."""
    statement = (
        select(item_date())
        .where(
            items.c.id.in_(
                select(keyword_matches.c.item_id).where(keyword_matches.c.keyword == keyword)
            ),
            item_date() >= since,
        )
        .order_by(item_date())
    )
    with engine.connect() as connection:
        return [to_utc(value) for value in connection.scalars(statement)]


def first_flagged(engine: Engine, keywords: Sequence[str]) -> dict[str, datetime]:
    """When each rule first flagged an item (by item date): where its history starts."""
    statement = (
        select(keyword_matches.c.keyword, func.min(item_date()))
        .join(items, items.c.id == keyword_matches.c.item_id)
        .where(keyword_matches.c.keyword.in_(list(keywords)))
        .group_by(keyword_matches.c.keyword)
    )
    with engine.connect() as connection:
        return {rule: to_utc(when) for rule, when in connection.execute(statement) if when}


def _as_date(value: object) -> date:
    # SQLite's date() returns text, PostgreSQL a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))
