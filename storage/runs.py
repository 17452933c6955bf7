"""Crawl runs: the one module that writes them (start, finish, interrupt, end a killed one) and
the plain reads of run rows (when each source last started, the run of a process, `newsmon runs`).

Judging a source by its runs is storage/health.py. Core only for what a crawl itself calls: a
crawl that finds every source unchanged (crawler/probe.py) should not pay the ORM's start-up;
the two reads that hand back ORM rows load it when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, insert, select, update

from storage.clock import to_utc, utcnow
from storage.tables import crawl_runs, sources

if TYPE_CHECKING:
    from storage.models import CrawlRun


@dataclass(frozen=True)
class RunOutcome:
    status: str
    pages: int = 0
    new_items: int = 0
    flagged: int = 0
    skipped: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_text: str | None = None
    skip_kinds: dict[str, int] = field(default_factory=dict)  # sums to `skipped`
    discovered: int | None = None  # None: no discovery page was read
    matched: int | None = None


def outcome_of(run: CrawlRun) -> RunOutcome:
    """A recorded run's outcome, as the crawl reported it."""
    return RunOutcome(
        status=run.status,
        pages=run.pages,
        new_items=run.new_items,
        flagged=run.flagged,
        skipped=run.skipped,
        errors=run.errors,
        error_kinds=dict(run.error_kinds or {}),
        error_text=run.error_text,
        skip_kinds=dict(run.skip_kinds or {}),
        discovered=run.discovered,
        matched=run.matched,
    )


def by_kind(counts: dict[str, int] | None) -> str:
    """`already_stored=3 not_article=1`: counts by kind, for summary lines and tables."""
    return " ".join(f"{kind}={count}" for kind, count in sorted((counts or {}).items()))


@dataclass(frozen=True)
class SourceResult:
    """The run recorded for one source."""

    source: str
    run_id: int
    outcome: RunOutcome


def start_run(engine: Engine, source_id: int, pid: int | None = None) -> int:
    with engine.begin() as connection:
        statement = insert(crawl_runs).values(source_id=source_id, pid=pid, error_kinds={})
        return connection.execute(statement).inserted_primary_key[0]


def finish_run(engine: Engine, run_id: int, outcome: RunOutcome) -> None:
    statement = (
        update(crawl_runs)
        .where(crawl_runs.c.id == run_id)
        .values(finished_at=utcnow(), **_outcome_columns(outcome))
    )
    with engine.begin() as connection:
        connection.execute(statement)


def _outcome_columns(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "pages": outcome.pages,
        "new_items": outcome.new_items,
        "flagged": outcome.flagged,
        "skipped": outcome.skipped,
        "errors": outcome.errors,
        "error_kinds": dict(outcome.error_kinds),
        "skip_kinds": dict(outcome.skip_kinds),
        "discovered": outcome.discovered,
        "matched": outcome.matched,
        "error_text": outcome.error_text,
    }


def record_runs(
    engine: Engine, source_ids: Mapping[str, int], outcome: RunOutcome, pid: int | None = None
) -> dict[str, int]:
    """Runs that are over as they start (sources a poll found unchanged), in one transaction:
    their ids by source name."""
    now = utcnow()
    values = {"started_at": now, "finished_at": now, "pid": pid, **_outcome_columns(outcome)}
    if not source_ids:
        return {}
    names = list(source_ids)
    statement = insert(crawl_runs).returning(crawl_runs.c.id, sort_by_parameter_order=True)
    with engine.begin() as connection:
        rows = [{**values, "source_id": source_ids[name]} for name in names]
        run_ids = connection.execute(statement, rows).scalars().all()
    return dict(zip(names, run_ids, strict=True))


def interrupt_stale_runs(engine: Engine, source_names: Iterable[str]) -> int:
    """Mark the 'running' runs of these sources 'interrupted'; returns how many.

    Call it only while holding the sources' crawl locks: then no live process can own such a
    run, so any left 'running' belongs to a crawl that was killed (kill -9, OOM, power loss).
    """
    names = list(source_names)
    if not names:
        return 0
    source_ids = select(sources.c.id).where(sources.c.name.in_(names)).scalar_subquery()
    statement = (
        update(crawl_runs)
        .where(crawl_runs.c.status == "running", crawl_runs.c.source_id.in_(source_ids))
        .values(
            status="interrupted",
            finished_at=utcnow(),
            error_text="the crawl process ended without finishing its run",
        )
    )
    with engine.begin() as connection:
        return connection.execute(statement).rowcount or 0


def end_running_run(
    engine: Engine, pid: int, *, status: str, error_text: str, kind: str | None = None
) -> int | None:
    """Close the 'running' run of process `pid` (killed by the daemon) with `status`.

    `kind` adds one error of that kind, such as "timeout"; returns the run's id, if any.
    """
    with engine.begin() as connection:
        run = connection.execute(
            select(crawl_runs.c.id, crawl_runs.c.errors, crawl_runs.c.error_kinds)
            .where(crawl_runs.c.pid == pid, crawl_runs.c.status == "running")
            .order_by(crawl_runs.c.id.desc())
            .limit(1)
        ).first()
        if run is None:
            return None
        values: dict[str, object] = {
            "status": status,
            "finished_at": utcnow(),
            "error_text": error_text,
        }
        if kind is not None:
            values["errors"] = run.errors + 1
            values["error_kinds"] = {**(run.error_kinds or {}), kind: 1}
        connection.execute(update(crawl_runs).where(crawl_runs.c.id == run.id).values(**values))
        return run.id


def end_running_runs(engine: Engine, pid: int, **closing: Any) -> int:
    """end_running_run for every run process `pid` left running (a batch's hung sources);
    returns how many it closed."""
    closed = 0
    while end_running_run(engine, pid, **closing) is not None:
        closed += 1
    return closed


def timed_out_last(engine: Engine, names: Iterable[str]) -> set[str]:
    """Those of `names` whose newest finished run was killed at run_timeout: they are crawled
    alone until a run of theirs ends in time."""
    names = list(names)
    if not names:
        return set()
    newest = (
        select(func.max(crawl_runs.c.id))
        .join(sources, sources.c.id == crawl_runs.c.source_id)
        .where(sources.c.name.in_(names), crawl_runs.c.status != "running")
        .group_by(crawl_runs.c.source_id)
    )
    statement = (
        select(sources.c.name, crawl_runs.c.error_kinds)
        .join(crawl_runs, crawl_runs.c.source_id == sources.c.id)
        .where(crawl_runs.c.id.in_(newest))
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return {name for name, kinds in rows if "timeout" in (kinds or {})}


def last_started(engine: Engine) -> dict[str, datetime]:
    """When each source's newest run started: the clock its schedule counts from."""
    statement = (
        select(sources.c.name, func.max(crawl_runs.c.started_at))
        .join(crawl_runs, crawl_runs.c.source_id == sources.c.id)
        .group_by(sources.c.name)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    # func.max bypasses the UTCDateTime type on SQLite, which then hands back a string.
    return {name: to_utc(started) for name, started in rows if started is not None}


def run_of_process(engine: Engine, source: str, pid: int) -> CrawlRun | None:
    """The newest run of `source` recorded by process `pid` (the daemon's child)."""
    from sqlalchemy.orm import Session

    from storage.models import CrawlRun, Source

    with Session(engine) as session:
        return session.scalar(
            select(CrawlRun)
            .join(CrawlRun.source)
            .where(Source.name == source, CrawlRun.pid == pid)
            .order_by(CrawlRun.id.desc())
            .limit(1)
        )


def list_runs(engine: Engine, source: str | None = None, limit: int = 20) -> list[CrawlRun]:
    """The newest runs, of one source or all, for `newsmon runs`."""
    from sqlalchemy.orm import Session

    from storage.models import CrawlRun, Source

    statement = select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
    if source:
        statement = statement.join(CrawlRun.source).where(Source.name == source)
    with Session(engine) as session:
        return list(session.scalars(statement.limit(limit)))
