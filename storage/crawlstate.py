"""A crawl's own bookkeeping: source rows, run records, and the validators a run starts from.

Core only, no ORM: a crawl that finds every source unchanged (crawler/probe.py) does nothing
else, and should not pay the ORM's start-up for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update

from storage.clock import to_utc
from storage.tables import crawl_runs, http_validators, sources, utcnow
from storage.urlkeys import redact_url, url_digest


@dataclass(frozen=True)
class Validators:
    """What to send for a conditional GET, and the body hash to compare when there is none."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


def body_hash(body: bytes) -> str:
    """What a body is compared by when its server sends no validators (its decoded bytes)."""
    return hashlib.sha256(body).hexdigest()


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


@dataclass(frozen=True)
class SourceResult:
    """The run recorded for one source."""

    source: str
    run_id: int
    outcome: RunOutcome


def ensure_source(engine: Engine, name: str, mode: str, url: str) -> int:
    """The id of source `name`, creating or updating its row (its URL kept redacted)."""
    url = redact_url(url)
    with engine.begin() as connection:
        row = connection.execute(
            select(sources.c.id, sources.c.mode, sources.c.url).where(sources.c.name == name)
        ).first()
        if row is None:
            statement = insert(sources).values(name=name, mode=mode, url=url)
            return connection.execute(statement).inserted_primary_key[0]
        if (row.mode, row.url) != (mode, url):
            connection.execute(
                update(sources).where(sources.c.id == row.id).values(mode=mode, url=url)
            )
        return row.id


def start_run(engine: Engine, source_id: int, pid: int | None = None) -> int:
    with engine.begin() as connection:
        statement = insert(crawl_runs).values(source_id=source_id, pid=pid, error_kinds={})
        return connection.execute(statement).inserted_primary_key[0]


def finish_run(engine: Engine, run_id: int, outcome: RunOutcome) -> None:
    statement = (
        update(crawl_runs)
        .where(crawl_runs.c.id == run_id)
        .values(
            finished_at=utcnow(),
            status=outcome.status,
            pages=outcome.pages,
            new_items=outcome.new_items,
            flagged=outcome.flagged,
            skipped=outcome.skipped,
            errors=outcome.errors,
            error_kinds=dict(outcome.error_kinds),
            error_text=outcome.error_text,
        )
    )
    with engine.begin() as connection:
        connection.execute(statement)


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


def validators_for(engine: Engine, urls: Iterable[str]) -> dict[str, Validators]:
    """The stored validators of those of `urls` that have any, in one query, by URL."""
    wanted = {url_digest(url): url for url in urls}
    columns = (
        http_validators.c.url_digest,
        http_validators.c.etag,
        http_validators.c.last_modified,
        http_validators.c.body_hash,
    )
    statement = select(*columns).where(http_validators.c.url_digest.in_(list(wanted)))
    with engine.connect() as connection:
        rows = connection.execute(statement)
        return {wanted[digest]: Validators(*validators) for digest, *validators in rows}
