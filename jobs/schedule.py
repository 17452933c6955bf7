"""When a source is due: its schedule measured from its last recorded run, or for an adaptive
schedule the next poll its stored cadence planned (jobs/cadence.py, storage/cadence.py).

Shared by `newsmon crawl --due` (cron mode) and the daemon, so both agree on what "due" means.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from crawler.config import schedules as crawler_cron
from crawler.config.models import Config, Schedule, Source
from jobs.cadence import WINDOW, Observation, plan_next
from storage import cadence, crawlstate
from storage.cadence import CadenceState
from storage.clock import to_utc, utcnow

MAX_SLACK_S = 30.0


def cron_trigger(schedule: Schedule, *, with_jitter: bool = False) -> Any:
    """APScheduler's CronTrigger for a cron schedule (its timezone, else UTC)."""
    assert schedule.cron is not None
    return crawler_cron.cron_trigger(
        schedule.cron, schedule.timezone, schedule.jitter if with_jitter else None
    )


def next_due(
    schedule: Schedule,
    last_started: datetime | None,
    now: datetime,
    state: CadenceState | None = None,
) -> datetime:
    """The first time the source is due after its last run (now when it never ran)."""
    if last_started is None:
        return now
    if schedule.adaptive is not None:
        if state is not None:
            return state.next_at
        return last_started + timedelta(seconds=schedule.adaptive.min)
    if schedule.every is not None:
        return last_started + timedelta(seconds=schedule.every)
    fire = cron_trigger(schedule).get_next_fire_time(None, last_started + timedelta(microseconds=1))
    return to_utc(fire) if fire is not None else now + timedelta(days=3650)


def slack(schedule: Schedule) -> float:
    """How early a run may count as due, so that `every: 10m` from a minutely crontab does not
    drift by a minute per run."""
    if schedule.every is not None:
        return min(MAX_SLACK_S, schedule.every / 10)
    if schedule.adaptive is not None:
        return min(MAX_SLACK_S, schedule.adaptive.min / 10)
    return 0.0  # cron starts a crontab line on its minute, never before a cron schedule's time


def is_due(
    schedule: Schedule,
    last_started: datetime | None,
    now: datetime,
    state: CadenceState | None = None,
) -> bool:
    due = next_due(schedule, last_started, now, state)
    return (due - now).total_seconds() <= slack(schedule)


def interval_of(schedule: Schedule, around: datetime, state: CadenceState | None = None) -> float:
    """Seconds between two runs (for cron, the gap after `around`; for an adaptive schedule,
    its current interval, else its ceiling): sets the overdue margin."""
    if schedule.adaptive is not None:
        return state.interval if state is not None else schedule.adaptive.max
    if schedule.every is not None:
        return schedule.every
    trigger = cron_trigger(schedule)
    first = trigger.get_next_fire_time(None, around)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 86400.0


def record_polls(
    config: Config, engine: Engine, observed: Sequence[tuple[Source, Observation]]
) -> dict[str, CadenceState]:
    """Plan each source's next poll from what its poll saw, and store the plan."""
    if not observed:
        return {}
    names = [source.name for source, _ in observed]
    now = utcnow()
    states = cadence.load_states(engine, names)
    published = cadence.publication_times(engine, names, now - WINDOW)
    watched = cadence.watched_since(engine, names)
    rng = random.Random()
    planned: dict[str, CadenceState] = {}
    ids = crawlstate.ensure_sources(engine, [(s.name, s.mode, s.url) for s, _ in observed])
    for source, observation in observed:
        state = plan_next(
            config.schedule_for(source),
            states.get(source.name),
            observation,
            published.get(source.name, []),
            now,
            rng,
            watched.get(source.name),
        )
        planned[source.name] = state
    cadence.save_states(engine, [(ids[name], state) for name, state in planned.items()])
    return planned
