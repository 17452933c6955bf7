"""Each source's poll schedule as stored, and the publication times it is learned from.

jobs/cadence.py decides; this module keeps its CadenceState between polls and processes, so a
restarted daemon, `newsmon crawl --due` and `newsmon status` all see the same schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.clock import to_utc
from storage.tables import crawl_runs, items, source_schedules, sources


@dataclass(frozen=True)
class CadenceState:
    """A source's schedule now: stored after every poll, read by status and the daemon."""

    interval: float
    reason: str  # new | rate | burst | ttl | retry-after | backoff | fixed
    next_at: datetime
    failures: int = 0
    healthy_interval: float | None = None  # the interval before the failures began
    conditional: bool = True  # False once a 304 or unchanged validators were caught lying
    conditional_note: str | None = None
    last_poll_at: datetime | None = None
    last_unconditional_at: datetime | None = None
    last_new_at: datetime | None = None


COLUMNS = {"interval": "interval_s", "healthy_interval": "healthy_interval_s"}


def load_states(engine: Engine, names: Iterable[str] | None = None) -> dict[str, CadenceState]:
    """The stored schedule of each named source (every source when `names` is None)."""
    statement = select(sources.c.name, source_schedules).join(
        source_schedules, source_schedules.c.source_id == sources.c.id
    )
    if names is not None:
        statement = statement.where(sources.c.name.in_(list(names)))
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    return {
        row["name"]: CadenceState(**{f.name: row[COLUMNS.get(f.name, f.name)] for f in _FIELDS})
        for row in rows
    }


def save_state(engine: Engine, source_id: int, state: CadenceState) -> None:
    save_states(engine, [(source_id, state)])


def save_states(engine: Engine, planned: Iterable[tuple[int, CadenceState]]) -> None:
    """Store each (source id, state), in one transaction: a tick's polls cost one commit."""
    with engine.begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        for source_id, state in planned:
            values = {COLUMNS.get(f.name, f.name): getattr(state, f.name) for f in _FIELDS}
            statement = dialect.insert(source_schedules).values(source_id=source_id, **values)
            connection.execute(
                statement.on_conflict_do_update(index_elements=["source_id"], set_=values)
            )


# Pages often give only the day (trafilatura's dates are day-precise: midnight UTC). For an item
# that appeared while newsmon watched, within this long after its day, the time newsmon first saw
# it is the better guess of the hour: a source's silence counted from midnight would slow its
# polls all day. History found on a first crawl has only its day: taken at noon, its middle.
DAY_ONLY_SLACK = timedelta(days=2)


class Appearance(NamedTuple):
    """When an item appeared, and whether that time tells the hour: a date with a time does,
    and so does the time newsmon first saw an item appear while it watched; a bare day's noon
    and a first crawl's history do not (they would make a false hour-of-day profile)."""

    at: datetime
    timed: bool = True


def publication_times(
    engine: Engine, names: Iterable[str], since: datetime
) -> dict[str, list[Appearance]]:
    """When each source's items appeared, oldest first (appeared_at)."""
    names = list(names)
    history_until = first_run_ended(engine, names)
    statement = (
        select(sources.c.name, items.c.published_at, items.c.fetched_at)
        .join(items, items.c.source_id == sources.c.id)
        .where(
            sources.c.name.in_(names),
            items.c.fetched_at >= since,  # what appeared since then was seen since then
            items.c.duplicate_of.is_(None),
        )
    )
    found: dict[str, list[Appearance]] = {}
    with engine.connect() as connection:
        for name, published, fetched in connection.execute(statement):
            seen = to_utc(fetched)
            appeared = appeared_at(
                to_utc(published) if published else None, seen, history_until.get(name)
            )
            if appeared.at >= since:
                found.setdefault(name, []).append(appeared)
    for times in found.values():
        times.sort()
    return found


def appeared_at(
    published: datetime | None, seen: datetime, history_until: datetime | None = None
) -> Appearance:
    """When an item appeared: its page's date where that is plausible (not after newsmon first
    saw it) and says more than the day; else the time it was first seen if it appeared while
    newsmon watched (after its first run, which ended at `history_until`; for a bare day, within
    DAY_ONLY_SLACK of it); else noon of its day (at most the time first seen), or first seen."""
    watching = history_until is not None and seen > history_until
    if published is None or published > seen:
        return Appearance(seen, watching)
    if published.time() != time(0):
        return Appearance(published)
    if watching and seen - published < DAY_ONLY_SLACK:
        return Appearance(seen)
    return Appearance(min(published + timedelta(hours=12), seen), timed=False)


def first_run_ended(engine: Engine, names: Iterable[str]) -> dict[str, datetime]:
    """When each source's first finished run ended: what it stored until then was history."""
    return _earliest_run(engine, names, crawl_runs.c.finished_at)


def watched_since(engine: Engine, names: Iterable[str]) -> dict[str, datetime]:
    """When newsmon first ran each source."""
    return _earliest_run(engine, names, crawl_runs.c.started_at)


def _earliest_run(engine: Engine, names: Iterable[str], column: Any) -> dict[str, datetime]:
    """The earliest value of a crawl_runs time `column` per source of `names`."""
    statement = (
        select(sources.c.name, func.min(column))
        .join(crawl_runs, crawl_runs.c.source_id == sources.c.id)
        .where(sources.c.name.in_(list(names)))
        .group_by(sources.c.name)
    )
    with engine.connect() as connection:
        return {name: to_utc(at) for name, at in connection.execute(statement) if at is not None}


_FIELDS = fields(CadenceState)
