"""Source health, judged from its crawl runs and items: the queries behind `status`.

Runs themselves are written and listed by storage/runs.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, case, func, select, true
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.models import CrawlRun, Item, Source

# An article with less text than this is incomplete: a teaser, a cookie wall, a cut-off page.
ENOUGH_TEXT_CHARS = 400
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
    """(healthy, why): failing N times in a row, never succeeded, no new items for too long,
    overdue, never run."""
    now = now or utcnow()
    if health.runs == 0:
        return False, "never run"
    if health.consecutive_failures >= max_failures:
        return False, f"failing: {health.consecutive_failures} failures in a row"
    if health.last_success is None and health.consecutive_failures:
        # A fresh install without network fails every first run: that is not ok.
        return False, f"never succeeded: {health.consecutive_failures} run(s), all failed"
    if expect_new_within is not None:
        quiet_since = health.last_new_item or health.first_run
        if quiet_since is not None and (now - quiet_since).total_seconds() > expect_new_within:
            return False, f"stale: no new items since {quiet_since:%Y-%m-%d %H:%M}Z"
    if overdue_after is not None and now > overdue_after:
        return False, "overdue: no run since its schedule said so (is the daemon or cron running?)"
    if health.consecutive_failures:
        return True, f"ok ({health.consecutive_failures} recent failure(s))"
    return True, "ok"


# --- Baselines and conditions: each source judged against its own normal ------------------
# The thresholds, documented in docs/operations.md (run records and health).
BROKEN_AFTER_RUNS = 3  # K: runs in a row whose discovery found no article links
BASELINE_RUNS = 3  # runs before those needed to know the source's normal
NOT_ARTICLE_JUMP = 0.5  # the not-article share of fetched pages rising this much is breakage
RECENT_ITEMS = 10  # the newest items, judged for completeness against the ones before
BASELINE_ITEMS = 20  # items before those needed to know the normal completeness
DEGRADED_DROP = 0.3  # completeness this far below the source's own normal is degradation
SILENT_FACTOR = 4  # no new item for this many times the usual gap between new items
SILENT_MIN_GAPS = 5  # gaps needed before the usual one is trusted
SILENT_MIN_GAP = timedelta(hours=1)  # a source crawled every minute is not silent after 4
HISTORY_RUNS = 60  # runs read per source
HISTORY_ITEMS = 200

OK, BROKEN, DEGRADED, SILENT = "ok", "broken", "degraded", "silent"


@dataclass(frozen=True)
class RunFacts:
    """One finished run, as baselines read it."""

    started_at: datetime
    pages: int
    new_items: int
    matched: int | None  # None: no discovery page was read (unchanged, or it failed)
    not_article: int


@dataclass(frozen=True)
class Baseline:
    """A source's own normal, learned from its runs and items (None: not enough history)."""

    matched_per_run: float | None
    not_article_share: float | None
    completeness: float | None
    gap: timedelta | None


@dataclass(frozen=True)
class Condition:
    """What a source's recent runs and items say against its baseline: ok, broken, degraded
    or silent, since when, and why in a sentence."""

    state: str
    since: datetime | None
    why: str
    baseline: Baseline


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _share(part: Iterable[int], whole: Iterable[int]) -> float | None:
    total = sum(whole)
    return sum(part) / total if total else None


def judge_condition(
    runs: list[RunFacts],
    complete: list[tuple[datetime, bool]],
    *,
    now: datetime,
    expect_new_within: float | None = None,
) -> Condition:
    """The condition of a source from its runs and its items' completeness, newest first."""
    reading = [run for run in runs if run.matched is not None]
    paged = [run for run in runs if run.pages > 0]
    with_new = sorted(run.started_at for run in runs if run.new_items > 0)
    gaps = [(b - a).total_seconds() for a, b in zip(with_new, with_new[1:], strict=False)]
    earlier_paged = paged[BROKEN_AFTER_RUNS:]
    recent_items, earlier_items = complete[:RECENT_ITEMS], complete[RECENT_ITEMS:]
    usual_gap = _median(gaps) if len(gaps) >= SILENT_MIN_GAPS else None
    baseline = Baseline(
        matched_per_run=_median([float(run.matched or 0) for run in reading[BROKEN_AFTER_RUNS:]]),
        not_article_share=_share(
            (run.not_article for run in earlier_paged), (run.pages for run in earlier_paged)
        )
        if len(earlier_paged) >= BASELINE_RUNS
        else None,
        completeness=sum(ok for _, ok in earlier_items) / len(earlier_items)
        if len(earlier_items) >= BASELINE_ITEMS
        else None,
        gap=max(timedelta(seconds=usual_gap), SILENT_MIN_GAP) if usual_gap is not None else None,
    )

    recent = reading[:BROKEN_AFTER_RUNS]
    used_to = any(run.matched for run in reading[BROKEN_AFTER_RUNS:])
    if len(recent) == BROKEN_AFTER_RUNS and used_to and not any(run.matched for run in recent):
        return Condition(
            BROKEN,
            recent[-1].started_at,
            f"broken: discovery found no article links in the last {len(recent)} runs"
            f" (usually {baseline.matched_per_run:g})",
            baseline,
        )
    recent_paged = paged[:BROKEN_AFTER_RUNS]
    share = _share((run.not_article for run in recent_paged), (run.pages for run in recent_paged))
    normal = baseline.not_article_share
    jumped = share is not None and normal is not None and share - normal >= NOT_ARTICLE_JUMP
    if len(recent_paged) == BROKEN_AFTER_RUNS and jumped:
        return Condition(
            BROKEN,
            recent_paged[-1].started_at,
            f"broken: {share:.0%} of fetched pages were not articles in the last"
            f" {len(recent_paged)} runs (usually {normal:.0%})",
            baseline,
        )
    if baseline.completeness is not None and len(recent_items) == RECENT_ITEMS:
        completeness = sum(ok for _, ok in recent_items) / len(recent_items)
        if baseline.completeness - completeness >= DEGRADED_DROP:
            return Condition(
                DEGRADED,
                recent_items[-1][0],
                f"degraded: {completeness:.0%} of the last {len(recent_items)} items have a"
                f" title, a date and {ENOUGH_TEXT_CHARS}+ characters (usually"
                f" {baseline.completeness:.0%})",
                baseline,
            )
    quiet = (
        timedelta(seconds=expect_new_within)
        if expect_new_within is not None
        else (baseline.gap * SILENT_FACTOR if baseline.gap is not None else None)
    )
    if quiet is not None and with_new and now - with_new[-1] > quiet:
        return Condition(
            SILENT,
            with_new[-1],
            f"silent: no new item since {with_new[-1]:%Y-%m-%d %H:%M}Z"
            + (
                f" (usually one every {_hours(baseline.gap)})"
                if expect_new_within is None and baseline.gap is not None
                else ""
            ),
            baseline,
        )
    return Condition(OK, None, "ok", baseline)


def _hours(gap: timedelta | None) -> str:
    hours = (gap or timedelta()).total_seconds() / 3600
    return f"{hours:.0f}h" if hours >= 1 else f"{hours * 60:.0f}m"


def source_conditions(
    engine: Engine,
    sources_expecting: Iterable[tuple[str, float | None]],
    now: datetime | None = None,
) -> dict[str, Condition]:
    """Each source's condition, by name: (name, its `expect_new_within` or None) in. What
    `newsmon status`, source alerts and the web view's /sources read."""
    now = now or utcnow()
    found = {}
    with Session(engine) as session:
        for name, expect in sources_expecting:
            source_id = session.scalar(select(Source.id).where(Source.name == name))
            runs, complete = _history(session, source_id) if source_id is not None else ([], [])
            found[name] = judge_condition(runs, complete, now=now, expect_new_within=expect)
    return found


def _history(
    session: Session, source_id: int
) -> tuple[list[RunFacts], list[tuple[datetime, bool]]]:
    """The source's finished runs (not interrupted ones) and its items' completeness, newest
    first."""
    runs = session.scalars(
        select(CrawlRun)
        .where(CrawlRun.source_id == source_id, CrawlRun.status.in_((*SUCCESS, FAILED)))
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(HISTORY_RUNS)
    )
    facts = [
        RunFacts(
            run.started_at,
            run.pages,
            run.new_items,
            # A failed run found no links either (a redesign can 404 the listing).
            0 if run.matched is None and run.status == FAILED else run.matched,
            (run.skip_kinds or {}).get("not_article", 0),
        )
        for run in runs
    ]
    complete = and_(
        Item.title.is_not(None),
        Item.published_at.is_not(None),
        func.length(Item.text) >= ENOUGH_TEXT_CHARS,
    )
    rows = session.execute(
        select(Item.fetched_at, case((complete, True), else_=False))
        .where(Item.source_id == source_id)
        .order_by(Item.fetched_at.desc(), Item.id.desc())
        .limit(HISTORY_ITEMS)
    )
    return facts, [(fetched, bool(ok)) for fetched, ok in rows]
