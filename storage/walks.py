"""Discovery walk state: which walk of which URL caught up, and where a backfill resumes.

crawler/walks.py decides when a walk is walking or caught up; this module stores it, each URL
under its digest and only redacted (storage/urlkeys.py). Core only, no ORM: the probe reads it
before Scrapy starts, and `newsmon status` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select, update

from storage.clock import utcnow
from storage.db import dialect_insert
from storage.tables import backfills, discovery_walks, sources
from storage.urlkeys import redact_url, url_digest

CRAWL, BACKFILL = "crawl", "backfill"


@dataclass(frozen=True)
class WalkState:
    """What the last walk of one discovery URL got to."""

    caught_up: bool
    target: str
    page: int | None = None
    started_at: datetime | None = None

    def covers(self, target: str) -> bool:
        """Whether that walk finished, and covered what a walk for `target` must."""
        return self.caught_up and self.target == target


@dataclass(frozen=True)
class Progress:
    """What a walk changed: URLs it started walking, and URLs whose walk caught up."""

    walking: Sequence[tuple[str, int | None]] = ()
    caught_up: Sequence[tuple[str, int | None]] = ()


def walk_states(engine: Engine, source_id: int, kind: str = CRAWL) -> dict[str, WalkState]:
    """The state of every walked URL of a source, by the URL's digest (url_digest)."""
    columns = (
        discovery_walks.c.url_digest,
        discovery_walks.c.caught_up,
        discovery_walks.c.target,
        discovery_walks.c.page,
        discovery_walks.c.started_at,
    )
    statement = select(*columns).where(
        discovery_walks.c.source_id == source_id, discovery_walks.c.kind == kind
    )
    with engine.connect() as connection:
        return {digest: WalkState(*state) for digest, *state in connection.execute(statement)}


def record(engine: Engine, source_id: int, kind: str, target: str, progress: Progress) -> None:
    """Store a walk's progress in one transaction: walking first, then caught up."""
    if not (progress.walking or progress.caught_up):
        return
    now = utcnow()
    insert = dialect_insert(engine)(discovery_walks)

    def upsert(rows: Sequence[tuple[str, int | None]], caught_up: bool) -> None:
        values = [
            {
                "source_id": source_id,
                "kind": kind,
                "url_digest": url_digest(url),
                "url": redact_url(url),
                "target": target,
                "caught_up": caught_up,
                "page": page,
                "started_at": now,
                "caught_up_at": now if caught_up else None,
            }
            for url, page in rows
        ]
        # A URL caught up keeps the time its walk started; one walking again restarts it.
        changed = ["target", "caught_up", "page", "caught_up_at"]
        if not caught_up:
            changed.append("started_at")
        statement = insert.on_conflict_do_update(
            index_elements=["source_id", "kind", "url_digest"],
            set_={column: insert.excluded[column] for column in changed},
        )
        connection.execute(statement, values)

    with engine.begin() as connection:
        if progress.walking:
            upsert(progress.walking, caught_up=False)
        if progress.caught_up:
            upsert(progress.caught_up, caught_up=True)


def caught_up_roots(engine: Engine, roots: Iterable[tuple[str, str, str]]) -> set[str]:
    """Of (source name, root URL, target), the names whose last crawl walk caught up."""
    wanted = {(name, url_digest(url)): target for name, url, target in roots}
    if not wanted:
        return set()
    statement = (
        select(sources.c.name, discovery_walks.c.url_digest, discovery_walks.c.target)
        .join(discovery_walks, discovery_walks.c.source_id == sources.c.id)
        .where(
            sources.c.name.in_({name for name, _ in wanted}),
            discovery_walks.c.kind == CRAWL,
            discovery_walks.c.caught_up.is_(True),
        )
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return {name for name, digest, target in rows if wanted.get((name, digest)) == target}


@dataclass(frozen=True)
class CatchingUp:
    """A source whose crawl walk has not caught up: since when, and how many URLs are done."""

    since: datetime | None
    done: int
    walked: int


def catching_up(engine: Engine, roots: Iterable[tuple[str, str]]) -> dict[str, CatchingUp]:
    """Of (source name, root URL), those crawled at least once whose root walk is not caught up."""
    wanted = {name: url_digest(url) for name, url in roots}
    if not wanted:
        return {}
    statement = (
        select(
            sources.c.name,
            discovery_walks.c.url_digest,
            discovery_walks.c.caught_up,
            discovery_walks.c.started_at,
        )
        .join(discovery_walks, discovery_walks.c.source_id == sources.c.id)
        .where(sources.c.name.in_(set(wanted)), discovery_walks.c.kind == CRAWL)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    found: dict[str, CatchingUp] = {}
    for name in wanted:
        own = [row for row in rows if row.name == name]
        root = next((row for row in own if row.url_digest == wanted[name]), None)
        if own and (root is None or not root.caught_up):
            since = root.started_at if root is not None else None
            done = sum(1 for row in own if row.caught_up)
            found[name] = CatchingUp(since, done, len(own))
    return found


# --- backfills ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backfill:
    """A source's backfill: what it walks, where it resumes, how far it got."""

    target: str
    pages: int | None
    since: str | None
    resume_url: str | None
    resume_page: int | None
    steps_done: int
    started_at: datetime
    finished_at: datetime | None


def backfill_of(engine: Engine, source_id: int) -> Backfill | None:
    columns = [backfills.c[name] for name in Backfill.__dataclass_fields__]
    with engine.connect() as connection:
        row = connection.execute(select(*columns).where(backfills.c.source_id == source_id)).first()
    return Backfill(*row) if row is not None else None


def start_backfill(
    engine: Engine, source_id: int, target: str, pages: int | None, since: str | None
) -> None:
    """A fresh backfill for `target`: its walk state and resume point are cleared."""
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(delete(backfills).where(backfills.c.source_id == source_id))
        connection.execute(
            delete(discovery_walks).where(
                discovery_walks.c.source_id == source_id, discovery_walks.c.kind == BACKFILL
            )
        )
        connection.execute(
            backfills.insert().values(
                source_id=source_id,
                target=target,
                pages=pages,
                since=since,
                steps_done=0,
                started_at=now,
                updated_at=now,
            )
        )


def backfill_step(
    engine: Engine, source_id: int, resume_url: str | None, resume_page: int | None
) -> None:
    """One more step done; the backfill resumes at `resume_url` (None: nothing left there)."""
    statement = (
        update(backfills)
        .where(backfills.c.source_id == source_id)
        .values(
            resume_url=resume_url,
            resume_page=resume_page,
            steps_done=backfills.c.steps_done + 1,
            updated_at=utcnow(),
        )
    )
    with engine.begin() as connection:
        connection.execute(statement)


def finish_backfill(engine: Engine, source_id: int) -> None:
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            update(backfills)
            .where(backfills.c.source_id == source_id)
            .values(finished_at=now, updated_at=now, resume_url=None, resume_page=None)
        )


def unfinished_backfills(engine: Engine, names: Iterable[str]) -> dict[str, Backfill]:
    """The named sources' backfills that have not finished, by source name."""
    columns = [backfills.c[name] for name in Backfill.__dataclass_fields__]
    statement = (
        select(sources.c.name, *columns)
        .join(backfills, backfills.c.source_id == sources.c.id)
        .where(sources.c.name.in_(list(names)), backfills.c.finished_at.is_(None))
    )
    with engine.connect() as connection:
        return {name: Backfill(*rest) for name, *rest in connection.execute(statement)}
