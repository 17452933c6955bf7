"""Keyword spikes: a rule flagging far more items than it usually does, and their alert state.

The detector compares the items a rule flagged in the last `window` with the same-length
windows of its trailing `baseline` (14 days of 6-hour windows: 56 of them). A spike is a count
of at least mean + 3 standard deviations of those windows, and at least `min_count`, so a quiet
rule's second item is no spike. The deviation is taken as at least √mean: counts of news are
Poisson-like, so a baseline that happened to be flat (2 a day, every day) still varies by
about that much, and 3 on the next day is no spike. History starts at the rule's first flagged item: a new rule
has none, and nothing it does is a spike until it has `min_history` windows behind it. A
spike is over when the count is back within one standard deviation of the mean: only then can
the same channel be told of the next one.

The detector is pure (`judge`, `window_counts`, `day_spikes`); the rest records, per alert
channel, which spike it was told of (table keyword_spikes), so each is alerted once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, select, update

from storage.clock import utcnow
from storage.tables import keyword_spikes
from storage.trends import first_flagged, flagged_dates

PENDING, SENT, FAILED = "pending", "sent", "failed"
MAX_ATTEMPTS = 12  # as for item alerts: then the spike is given up


@dataclass(frozen=True)
class Detector:
    window: timedelta = timedelta(hours=6)
    baseline: timedelta = timedelta(days=14)
    sigmas: float = 3.0
    min_count: int = 3
    min_history: int = 4  # windows of history before anything can be a spike


DETECTOR = Detector()


@dataclass(frozen=True)
class Verdict:
    count: int
    mean: float
    sd: float  # the standard deviation of the history, at least √mean
    threshold: float
    spike: bool  # far above the baseline
    calm: bool  # back within one standard deviation: a spike is over

    @property
    def expected(self) -> str:
        return f"about {self.mean:.1f} ± {self.sd:.1f}"


def judge(count: int, history: Sequence[int], detector: Detector = DETECTOR) -> Verdict:
    """Is `count` a spike against `history` (the counts of earlier windows)?"""
    if len(history) < detector.min_history:
        return Verdict(count, 0.0, 0.0, float("inf"), spike=False, calm=True)
    mean = statistics.fmean(history)
    sd = max(statistics.pstdev(history), math.sqrt(mean))
    threshold = max(float(detector.min_count), mean + detector.sigmas * sd)
    return Verdict(
        count,
        mean,
        sd,
        threshold,
        spike=count >= threshold and count > mean,
        calm=count <= mean + sd,
    )


def window_counts(
    dates: Sequence[datetime],
    now: datetime,
    first_seen: datetime | None,
    detector: Detector = DETECTOR,
) -> tuple[int, list[int]]:
    """(items in the current window, items in each earlier window of the baseline that
    began after the rule's first item), from the items' dates."""
    current = sum(now - detector.window < when <= now for when in dates)
    history = []
    for n in range(1, detector.baseline // detector.window + 1):
        end = now - n * detector.window
        start = end - detector.window
        if first_seen is None or start < first_seen:
            break
        history.append(sum(start < when <= end for when in dates))
    return current, history


def day_spikes(counts: Sequence[int], baseline_days: int = 14) -> list[bool]:
    """For a chart of counts per day: which days were spikes against the days before them
    (history starting at the first day with an item)."""
    first = next((n for n, count in enumerate(counts) if count), len(counts))
    daily = Detector(window=timedelta(days=1), baseline=timedelta(days=baseline_days))
    return [
        n > first and judge(count, counts[max(first, n - baseline_days) : n], daily).spike
        for n, count in enumerate(counts)
    ]


def current_verdicts(
    engine: Engine, rules: Sequence[str], now: datetime | None = None, detector: Detector = DETECTOR
) -> dict[str, Verdict]:
    """Each rule's last window judged against its baseline: one query per rule."""
    now = now or utcnow()
    since = now - detector.baseline - detector.window
    first = first_flagged(engine, rules)
    verdicts = {}
    for rule in rules:
        dates = flagged_dates(engine, rule, since)
        verdicts[rule] = judge(*window_counts(dates, now, first.get(rule), detector), detector)
    return verdicts


@dataclass(frozen=True)
class SpikeRecord:
    id: int
    alert: str
    keyword: str
    started_at: datetime
    ended_at: datetime | None
    items: int
    threshold: float
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


def open_spikes(engine: Engine, alert: str) -> dict[str, SpikeRecord]:
    """The spikes this channel was told of (or is being told of) that are not over, by rule."""
    statement = select(keyword_spikes).where(
        keyword_spikes.c.alert == alert, keyword_spikes.c.ended_at.is_(None)
    )
    with engine.connect() as connection:
        return {row.keyword: SpikeRecord(**row._mapping) for row in connection.execute(statement)}


def start_spike(
    engine: Engine, alert: str, keyword: str, verdict: Verdict, now: datetime | None = None
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(keyword_spikes).values(
                alert=alert,
                keyword=keyword,
                started_at=now or utcnow(),
                items=verdict.count,
                threshold=verdict.threshold,
                status=PENDING,
                attempts=0,
            )
        )


def end_spike(engine: Engine, spike_id: int, now: datetime | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(keyword_spikes)
            .where(keyword_spikes.c.id == spike_id)
            .values(ended_at=now or utcnow())
        )


def unsent(engine: Engine, alert: str) -> list[SpikeRecord]:
    """The channel's spikes not yet sent and not given up, oldest first."""
    statement = (
        select(keyword_spikes)
        .where(
            keyword_spikes.c.alert == alert,
            keyword_spikes.c.status != SENT,
            keyword_spikes.c.attempts < MAX_ATTEMPTS,
        )
        .order_by(keyword_spikes.c.id)
    )
    with engine.connect() as connection:
        return [SpikeRecord(**row._mapping) for row in connection.execute(statement)]


def record_attempt(engine: Engine, spike_id: int, error: str | None) -> None:
    """A send went out (`error` None) or failed with `error`."""
    values: dict[str, object] = {"attempts": keyword_spikes.c.attempts + 1}
    if error is None:
        values.update(status=SENT, sent_at=utcnow(), last_error=None)
    else:
        values.update(status=FAILED, last_error=error[:2000])
    with engine.begin() as connection:
        connection.execute(
            update(keyword_spikes).where(keyword_spikes.c.id == spike_id).values(**values)
        )


def spike_counts(engine: Engine) -> dict[str, dict[str, object]]:
    """Per channel: spikes sent, owed, failing, given up, and the last error (for /alerts)."""
    given_up = keyword_spikes.c.attempts >= MAX_ATTEMPTS
    statement = select(
        keyword_spikes.c.alert,
        func.count().filter(keyword_spikes.c.status == SENT),
        func.count().filter(keyword_spikes.c.status == PENDING),
        func.count().filter(keyword_spikes.c.status == FAILED, ~given_up),
        func.count().filter(keyword_spikes.c.status == FAILED, given_up),
        func.max(keyword_spikes.c.id).filter(keyword_spikes.c.last_error.is_not(None)),
    ).group_by(keyword_spikes.c.alert)
    out: dict[str, dict[str, object]] = {}
    with engine.connect() as connection:
        for alert, sent, pending, failing, gave_up, errored in connection.execute(statement):
            error = (
                connection.scalar(
                    select(keyword_spikes.c.last_error).where(keyword_spikes.c.id == errored)
                )
                if errored
                else None
            )
            out[alert] = {
                "sent": sent,
                "pending": pending,
                "failing": failing,
                "given_up": gave_up,
                "last_error": error,
            }
    return out
