"""Source health, judged from its crawl runs and items: the queries behind `status`.

Runs themselves are written and listed by storage/runs.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, true
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.models import CrawlRun, Item, Source

SUCCESS = ("ok", "partial")
FAILED = "failed"


@dataclass(frozen=True)
class SourceHealth:
    """The facts `status` judges a source by."""

    source: str
    runs: int
    last_started: datetime | None
    last_success: datetime | None
    last_failure: datetime | None
    last_error: str | None
    consecutive_failures: int
    new_24h: int
    new_7d: int
    last_new_item: datetime | None
    first_run: datetime | None

    @classmethod
    def never_run(cls, source: str) -> SourceHealth:
        return cls(source, 0, None, None, None, None, 0, 0, 0, None, None)


def source_health(
    engine: Engine, names: Iterable[str], now: datetime | None = None
) -> list[SourceHealth]:
    """Health facts for each named source, in the order given (unknown ones have no runs)."""
    now = now or utcnow()
    with Session(engine) as session:
        return [_health_of(session, name, now) for name in names]


def _health_of(session: Session, name: str, now: datetime) -> SourceHealth:
    source_id = session.scalar(select(Source.id).where(Source.name == name))
    if source_id is None:
        return SourceHealth(name, 0, None, None, None, None, 0, 0, 0, None, None)
    runs = select(CrawlRun).where(CrawlRun.source_id == source_id)
    newest = runs.order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
    last_success = session.scalar(newest.where(CrawlRun.status.in_(SUCCESS)).limit(1))
    last_failure = session.scalar(newest.where(CrawlRun.status == FAILED).limit(1))
    # Failures since the last success; interrupted and running runs say nothing either way.
    consecutive = session.scalar(
        select(func.count(CrawlRun.id)).where(
            CrawlRun.source_id == source_id,
            CrawlRun.status == FAILED,
            CrawlRun.started_at > last_success.started_at if last_success else true(),
        )
    )
    first = session.scalar(runs.order_by(CrawlRun.started_at).limit(1))
    latest = session.scalar(newest.limit(1))
    items = select(func.count(Item.id)).where(Item.source_id == source_id)
    return SourceHealth(
        source=name,
        runs=session.scalar(select(func.count(CrawlRun.id)).where(CrawlRun.source_id == source_id))
        or 0,
        last_started=latest.started_at if latest else None,
        last_success=last_success.finished_at or last_success.started_at if last_success else None,
        last_failure=last_failure.finished_at or last_failure.started_at if last_failure else None,
        last_error=last_failure.error_text if last_failure else None,
        consecutive_failures=consecutive or 0,
        new_24h=session.scalar(items.where(Item.fetched_at >= now - timedelta(days=1))) or 0,
        new_7d=session.scalar(items.where(Item.fetched_at >= now - timedelta(days=7))) or 0,
        last_new_item=session.scalar(
            select(Item.fetched_at)
            .where(Item.source_id == source_id)
            .order_by(Item.fetched_at.desc())
            .limit(1)
        ),
        first_run=first.started_at if first else None,
    )


def verdict(
    health: SourceHealth,
    *,
    max_failures: int,
    expect_new_within: float | None,
    overdue_after: datetime | None = None,
    now: datetime | None = None,
) -> tuple[bool, str]:
    """(healthy, why): failing N times in a row, no new items for too long, overdue, never run."""
    now = now or utcnow()
    if health.runs == 0:
        return False, "never run"
    if health.consecutive_failures >= max_failures:
        return False, f"failing: {health.consecutive_failures} failures in a row"
    if expect_new_within is not None:
        quiet_since = health.last_new_item or health.first_run
        if quiet_since is not None and (now - quiet_since).total_seconds() > expect_new_within:
            return False, f"stale: no new items since {quiet_since:%Y-%m-%d %H:%M}Z"
    if overdue_after is not None and now > overdue_after:
        return False, "overdue: no run since its schedule said so (is the daemon or cron running?)"
    if health.consecutive_failures:
        return True, f"ok ({health.consecutive_failures} recent failure(s))"
    return True, "ok"
