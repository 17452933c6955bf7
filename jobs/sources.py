"""One row per enabled source, as `newsmon status`, the dashboard and /sources show it.

`source_rows` is the one place health facts (storage/health.py), schedules (jobs/schedule.py)
and walks are put together; a new verdict or an adaptive interval is wired in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from crawler.config.models import Config
from crawler.redact import redact_text
from jobs.schedule import interval_of, next_due
from storage import walks
from storage.cadence import load_states
from storage.clock import utcnow
from storage.health import OK, Condition, SourceHealth, source_conditions, source_health, verdict
from storage.runs import by_kind

STATES = ("ok", "degraded", "broken", "silent")


@dataclass(frozen=True)
class SourceRow:
    name: str
    facts: SourceHealth
    healthy: bool
    verdict: str  # in words
    state: str  # one of STATES
    interval_s: float  # the current poll interval
    set_by: str  # what set it: fixed, or the adaptive estimator's reason
    next_poll: datetime
    conditional: bool  # whether the server's 304s and validators are still trusted
    conditional_note: str | None  # why not, when newsmon found out on its own
    walk: str | None
    behind: Any  # walks.catching_up's entry, or None
    backfill: Any  # walks.unfinished_backfills' entry, or None
    condition: Condition | None  # judged against the source's own normal (storage/health.py)

    @property
    def last_error(self) -> str | None:
        # Run rows from before issue 14 may hold a secret.
        return redact_text(self.facts.last_error) if self.facts.last_error else None


def source_rows(
    config: Config, engine: Engine, *, schema: bool, now: datetime | None = None
) -> list[SourceRow]:
    """Every enabled source with its health; `schema` False (an empty database) reports
    every source as never run."""
    now = now or utcnow()
    sources = [source for source in config.sources if source.enabled]
    names = [source.name for source in sources]
    known = {facts.source: facts for facts in source_health(engine, names if schema else [], now)}
    catching_up = walks.catching_up(engine, [(s.name, s.url) for s in sources]) if schema else {}
    backfills = walks.unfinished_backfills(engine, names) if schema else {}
    cadences = load_states(engine, names) if schema else {}
    expecting = [(s.name, s.expect_new_within) for s in sources]
    conditions = source_conditions(engine, expecting, now) if schema else {}
    rows = []
    for source in sources:
        facts = known.get(source.name) or SourceHealth.never_run(source.name)
        schedule, cadence = config.schedule_for(source), cadences.get(source.name)
        overdue_after, next_poll = None, now
        if facts.last_started is not None:
            next_poll = next_due(schedule, facts.last_started, now, cadence)
            margin = interval_of(schedule, next_poll, cadence) + config.daemon.run_timeout
            overdue_after = next_poll + timedelta(seconds=margin)
        healthy, why = verdict(
            facts,
            max_failures=config.daemon.max_consecutive_failures,
            expect_new_within=source.expect_new_within,
            overdue_after=overdue_after,
            now=now,
        )
        condition = conditions.get(source.name)
        if healthy and condition is not None and condition.state != OK:
            healthy, why = False, condition.why  # judged against the source's own normal
        behind, backfill = catching_up.get(source.name), backfills.get(source.name)
        rows.append(
            SourceRow(
                name=source.name,
                facts=facts,
                healthy=healthy,
                verdict=why,
                state=health_state(healthy, why, facts, condition),
                interval_s=_interval_now(schedule, next_poll, cadence),
                set_by=_set_by(schedule, cadence),
                next_poll=next_poll,
                conditional=source.conditional is not False
                and (cadence is None or cadence.conditional),
                conditional_note=cadence.conditional_note if cadence else None,
                walk=_walk_summary(facts.runs, behind, backfill),
                behind=behind,
                backfill=backfill,
                condition=condition,
            )
        )
    return rows


def health_state(
    healthy: bool, why: str, facts: SourceHealth, condition: Condition | None = None
) -> str:
    """The source's condition against its own normal when that is not ok; else ok, degraded
    (healthy but failing lately), broken (failing) or silent (no runs or no new items when some
    were expected, or overdue)."""
    if condition is not None and condition.state != OK:
        return condition.state
    if healthy:
        return "degraded" if facts.consecutive_failures else "ok"
    return "broken" if why.startswith("failing") else "silent"


def _interval_now(schedule: Any, around: datetime, cadence: Any) -> float:
    """The interval the source is polled at now; an adaptive source not yet planned starts at
    its floor (interval_of gives its ceiling, for the overdue margin)."""
    if schedule.adaptive is not None and cadence is None:
        return float(schedule.adaptive.min)
    return interval_of(schedule, around, cadence)


def _set_by(schedule: Any, cadence: Any) -> str:
    """What set the interval: fixed (every/cron), or the adaptive estimator's reason."""
    if schedule.adaptive is None:
        return "fixed"
    reason = cadence.reason if cadence else "new"
    return reason if cadence is None or cadence.conditional else f"{reason}; unconditional"


def duration(seconds: float) -> str:
    """An interval as a person reads it: 10m, 2h, 1.5h, 45s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size < size / 60:
            return f"{round(seconds / size)}{unit}"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


def _walk_summary(runs: int, behind: Any, backfill: Any) -> str | None:
    """'caught up', or 'catching up (done/walked URLs)', plus an unfinished backfill."""
    if runs == 0:
        return None
    text = f"catching up ({behind.done}/{behind.walked})" if behind else "caught up"
    return f"{text}; backfill at step {backfill.steps_done}" if backfill else text


def state_counts(rows: list[SourceRow]) -> dict[str, int]:
    """How many sources are in each state, every state present."""
    counts = dict.fromkeys(STATES, 0)
    for row in rows:
        counts[row.state] += 1
    return counts


def run_row(run: Any) -> dict[str, Any]:
    """One crawl run as `newsmon runs` and the runs page show it."""
    took = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    kinds = by_kind(run.error_kinds)
    error_text = redact_text(run.error_text) if run.error_text else None  # rows from before 14
    return {
        "id": run.id,
        "source": run.source.name,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_s": round(took, 1) if took is not None else None,
        "status": run.status,
        "pages": run.pages,
        "new_items": run.new_items,
        "flagged": run.flagged,
        "skipped": run.skipped,
        "skip_kinds": run.skip_kinds,  # None on runs recorded before they were kept
        "discovered": run.discovered,
        "matched": run.matched,
        "errors": run.errors,
        "error_kinds": run.error_kinds or {},
        "error_text": error_text,
        "detail": " ".join(filter(None, [kinds, error_text or ""]))[:80],
    }


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else None
