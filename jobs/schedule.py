"""When a source is due: its schedule measured from its last recorded run.

Shared by `newsmon crawl --due` (cron mode) and the daemon, so both agree on what "due" means.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crawler.config import schedules as crawler_cron
from crawler.config.models import Schedule
from storage.clock import to_utc

MAX_SLACK_S = 30.0


def cron_trigger(schedule: Schedule, *, with_jitter: bool = False) -> Any:
    """APScheduler's CronTrigger for a cron schedule (its timezone, else UTC)."""
    assert schedule.cron is not None
    return crawler_cron.cron_trigger(
        schedule.cron, schedule.timezone, schedule.jitter if with_jitter else None
    )


def next_due(schedule: Schedule, last_started: datetime | None, now: datetime) -> datetime:
    """The first time the source is due after its last run (now when it never ran)."""
    if last_started is None:
        return now
    if schedule.every is not None:
        return last_started + timedelta(seconds=schedule.every)
    fire = cron_trigger(schedule).get_next_fire_time(None, last_started + timedelta(microseconds=1))
    return to_utc(fire) if fire is not None else now + timedelta(days=3650)


def slack(schedule: Schedule) -> float:
    """How early a run may count as due, so that `every: 10m` from a minutely crontab does not
    drift by a minute per run."""
    if schedule.every is not None:
        return min(MAX_SLACK_S, schedule.every / 10)
    return 0.0  # cron starts a crontab line on its minute, never before a cron schedule's time


def is_due(schedule: Schedule, last_started: datetime | None, now: datetime) -> bool:
    due = next_due(schedule, last_started, now)
    return (due - now).total_seconds() <= slack(schedule)


def interval_of(schedule: Schedule, around: datetime) -> float:
    """Seconds between two runs (for cron, the gap after `around`): sets the overdue margin."""
    if schedule.every is not None:
        return schedule.every
    trigger = cron_trigger(schedule)
    first = trigger.get_next_fire_time(None, around)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 86400.0
