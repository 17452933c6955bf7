"""When to poll a source next: its own publication rate, the server's hints, its failures.

Pure functions, no I/O: the daemon and `newsmon crawl --due` feed them what a poll saw and the
source's stored publication times, and store the CadenceState they return (storage/cadence.py).

The estimator (docs/architecture.md#adaptive-schedules):

- The source's mean gap between articles, G, is its publication count over the time it has
  been watched, looking back at most 14 days: G = span / (n + 1), so a source that published
  nothing has a gap as long as its silence. Publication times are `published_at` when the page
  gave one, else when newsmon first saw the item. A source quiet for longer than twice its
  usual gap is taken at half its silence, so a source that stopped slows down within days.
- Where a source has history enough (24 items whose hour is known, storage/cadence.Appearance),
  its hour-of-day profile scales G: a ministry that publishes in office hours is polled more
  often then. A bare day says nothing of the hour and stays out of the profile.
- A poll that found k new items after an interval I is short-term evidence: G is at most I / k,
  so a burst is followed at once.
- interval = sqrt(min x G), within [min, max]. Polling a source in proportion to the square
  root of its rate minimises the mean publish-to-stored delay per article for a given number of
  requests (polls_i ~ sqrt(rate_i)); `min` is the one knob: it is both the floor and the scale.
- Every entry of the discovery page new: entries may have rolled off unseen. Poll at `min` and
  walk deeper next run.
- Server hints are lower bounds, each capped at `max`: RSS <ttl>, sy:updatePeriod and
  sy:updateFrequency, Cache-Control max-age (or Expires minus Date) and Retry-After.
- Failures back off linearly (the last healthy interval times failures + 1) up to `max`, and
  polling never stops for good.
- Each next poll gets +-10% jitter (or the schedule's own `jitter`), so sources added together
  drift apart.

Conditional GETs are trusted but verified: an unconditional poll goes out at least once per
`max`, and after a silence of four usual gaps; when it shows the validators lied (a changed body
behind unchanged validators or a 304), the source stops sending conditional requests.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from crawler.config.models import Adaptive, Schedule
from storage.cadence import Appearance, CadenceState
from storage.clock import to_utc

WINDOW = timedelta(days=14)
PROFILE_MIN_ITEMS = 24  # below this an hour-of-day profile is noise
PROFILE_PRIOR = 2.0  # pseudo-items per hour: a smoothed profile
PROFILE_BOUNDS = (0.25, 4.0)
SILENCE_FACTOR = 2.0
VERIFY_AFTER_GAPS = 4.0
JITTER = 0.1
# sy:updatePeriod in seconds (RSS 1.0 syndication module).
UPDATE_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}
UPDATE_PERIODS |= {"monthly": 2592000.0, "yearly": 31536000.0}

Outcome = Literal["unchanged", "changed", "failed"]
Reason = Literal["new", "rate", "burst", "ttl", "retry-after", "backoff", "fixed"]


@dataclass(frozen=True)
class Hints:
    """Lower bounds the server asked for, in seconds."""

    ttl: float | None = None  # RSS <ttl>, sy:updatePeriod / sy:updateFrequency
    max_age: float | None = None  # Cache-Control max-age, or Expires minus Date
    retry_after: float | None = None


@dataclass(frozen=True)
class Observation:
    """What one poll (and the crawl it led to, if any) saw."""

    at: datetime
    outcome: Outcome
    hints: Hints = Hints()
    entries_seen: int = 0  # entries or links on the discovery page; 0 when unknown
    entries_new: int = 0  # of which were new (stored by the crawl)
    conditional_sent: bool = True
    validators_lied: bool = False  # an unconditional poll caught a 304 or validators lying


def hints_from(status: int, headers: Mapping[str, str], body: bytes | None, now: datetime) -> Hints:
    """The server's lower bounds on the next poll, from a response's headers and feed body.
    `headers` is case-insensitive or lower-case; nonsense values are ignored."""
    get = {name.lower(): value for name, value in headers.items()}.get
    retry_after = _retry_after(get("retry-after"), now) if status in (429, 503) else None
    return Hints(
        ttl=_feed_ttl(body) if body else None,
        max_age=_max_age(get("cache-control"), get("expires"), get("date")),
        retry_after=retry_after,
    )


TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.IGNORECASE)
UPDATE_PERIOD = re.compile(rb"<sy:updatePeriod>\s*([a-z]+)\s*</sy:updatePeriod>", re.IGNORECASE)
UPDATE_FREQUENCY = re.compile(
    rb"<sy:updateFrequency>\s*(\d{1,6})\s*</sy:updateFrequency>", re.IGNORECASE
)
MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)
HEAD_BYTES = 8192  # the channel's own elements come before its items


def _feed_ttl(body: bytes) -> float | None:
    head = body[:HEAD_BYTES]
    found = [float(m.group(1)) * 60 for m in [TTL.search(head)] if m]
    period = UPDATE_PERIOD.search(head)
    if period and period.group(1).decode().lower() in UPDATE_PERIODS:
        frequency = UPDATE_FREQUENCY.search(head)
        times = max(1, int(frequency.group(1))) if frequency else 1
        found.append(UPDATE_PERIODS[period.group(1).decode().lower()] / times)
    return max(found) if found and max(found) > 0 else None


def _max_age(cache_control: str | None, expires: str | None, date: str | None) -> float | None:
    if cache_control:
        if re.search(r"\bno-(?:cache|store)\b", cache_control, re.IGNORECASE):
            return None
        match = MAX_AGE.search(cache_control)
        if match:
            return float(match.group(1)) or None
    if expires and date:
        expires_at, date_at = _http_date(expires), _http_date(date)
        if expires_at and date_at and expires_at > date_at:
            return (expires_at - date_at).total_seconds()
    return None


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip()) or None
    at = _http_date(value)
    return (at - now).total_seconds() if at and at > now else None


def _http_date(value: str) -> datetime | None:
    try:
        return to_utc(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def mean_gap(
    publications: Sequence[Appearance],
    watched_since: datetime | None,
    now: datetime,
    count_silence: bool = True,
) -> float:
    """The source's usual gap between articles, in seconds (module docstring); without
    `count_silence`, its rate over the window alone."""
    recent = sorted(a.at for a in publications if now - WINDOW <= a.at <= now)
    start = max(now - WINDOW, min([*recent[:1], watched_since or now]))
    span = max(1.0, (now - start).total_seconds())
    gap = span / (len(recent) + 1)
    if recent and count_silence:
        silence = (now - recent[-1]).total_seconds()
        if silence > SILENCE_FACTOR * gap:
            gap = max(gap, silence / 2)
    hours = [a.at for a in publications if a.timed and now - WINDOW <= a.at <= now]
    if len(hours) >= PROFILE_MIN_ITEMS:
        gap /= hour_factor(hours, now)
    return gap


def hour_factor(publications: Sequence[datetime], now: datetime) -> float:
    """How much busier than its average hour this hour of day is for the source (smoothed)."""
    counts = [PROFILE_PRIOR] * 24
    for t in publications:
        counts[t.hour] += 1
    share = counts[now.hour] / sum(counts)
    low, high = PROFILE_BOUNDS
    return min(high, max(low, share * 24))


def plan_next(
    schedule: Schedule,
    state: CadenceState | None,
    observation: Observation,
    publications: Sequence[Appearance],
    now: datetime,
    rng: random.Random,
    watched_since: datetime | None = None,
) -> CadenceState:
    """The state after `observation`: the next interval, what set it and when to poll.

    `publications` are the source's stored publication times (storage/cadence.py);
    `watched_since` is when newsmon began watching it (its first run).
    """
    previous = state or CadenceState(interval=0.0, reason="new", next_at=now)
    new_at = previous.last_new_at
    if observation.entries_new > 0:
        new_at = now
    unconditional_at = previous.last_unconditional_at
    # A source's first crawl has no validators to send: it counts as the first verification.
    first = state is None or state.last_poll_at is None
    if (first or not observation.conditional_sent) and observation.outcome != "failed":
        unconditional_at = now
    conditional, note = previous.conditional, previous.conditional_note
    if observation.validators_lied and conditional:
        conditional = False
        note = f"a 304 or unchanged validators hid a changed feed on {now:%Y-%m-%d %H:%M} UTC"
    base = replace(
        previous,
        last_poll_at=now,
        last_new_at=new_at,
        last_unconditional_at=unconditional_at,
        conditional=conditional,
        conditional_note=note,
    )
    bounds = schedule.adaptive
    if bounds is None:  # every: or cron: the daemon's own trigger decides; kept for status
        interval = schedule.every or 0.0
        return replace(base, interval=interval, reason="fixed", failures=0, next_at=now)
    if observation.outcome == "failed":
        failures = previous.failures + 1
        healthy = previous.healthy_interval or previous.interval or bounds.min
        interval = min(bounds.max, max(bounds.min, healthy) * (failures + 1))
        reason: Reason = "backoff"
        retry_after = observation.hints.retry_after
        if retry_after and retry_after > interval:
            interval, reason = min(bounds.max, retry_after), "retry-after"
        return replace(
            base,
            interval=interval,
            reason=reason,
            failures=failures,
            healthy_interval=healthy,
            next_at=_jittered(now, interval, schedule, rng),
        )
    interval, reason = _rate_interval(
        previous, observation, publications, now, bounds, state, watched_since
    )
    interval, reason = _server_bounds(interval, reason, observation.hints, bounds)
    return replace(
        base,
        interval=interval,
        reason=reason,
        failures=0,
        healthy_interval=None,
        next_at=_jittered(now, interval, schedule, rng),
    )


def _rate_interval(
    previous: CadenceState,
    observation: Observation,
    publications: Sequence[Appearance],
    now: datetime,
    bounds: Adaptive,
    state: CadenceState | None,
    watched_since: datetime | None,
) -> tuple[float, Reason]:
    if state is not None and deeper(observation):
        return bounds.min, "burst"
    gap = mean_gap(publications, watched_since, now)
    if observation.entries_new > 0 and previous.last_poll_at is not None:
        waited = (now - previous.last_poll_at).total_seconds()
        gap = min(gap, max(1.0, waited) / observation.entries_new)
    interval = math.sqrt(bounds.min * gap)
    reason: Reason = "rate" if state is not None or publications else "new"
    return min(bounds.max, max(bounds.min, interval)), reason


def _server_bounds(
    interval: float, reason: Reason, hints: Hints, bounds: Adaptive
) -> tuple[float, Reason]:
    asked: list[tuple[float | None, Reason]] = [
        (hints.ttl, "ttl"),
        (hints.max_age, "ttl"),
        (hints.retry_after, "retry-after"),
    ]
    for hint, why in asked:
        if hint is not None and hint > interval:
            interval, reason = min(bounds.max, hint), why
    return interval, reason


def _jittered(now: datetime, interval: float, schedule: Schedule, rng: random.Random) -> datetime:
    spread = schedule.jitter if schedule.jitter is not None else interval * JITTER
    return now + timedelta(seconds=max(1.0, interval + rng.uniform(-spread, spread)))


def deeper(observation: Observation) -> bool:
    """Every entry of the discovery page was new: some may have rolled off unseen."""
    return observation.entries_seen > 0 and observation.entries_new >= observation.entries_seen


def send_unconditional(
    schedule: Schedule,
    state: CadenceState | None,
    now: datetime,
    publications: Sequence[Appearance] = (),
    configured: bool | None = None,
) -> bool:
    """Whether the next poll goes out without If-None-Match / If-Modified-Since.

    Always when the source says `conditional: false` or was caught lying; else at least once
    per `max` (a day for fixed schedules), and after a silence of four usual gaps.
    """
    if configured is False or (state is not None and not state.conditional):
        return True
    if state is None or state.last_unconditional_at is None:
        return state is not None  # no verification yet (the first crawl failed): verify now
    since = (now - state.last_unconditional_at).total_seconds()
    every = schedule.adaptive.max if schedule.adaptive else 86400.0
    if since >= every:
        return True
    # Once per silence: when it reaches four usual gaps, unless a poll since then was unconditional.
    quiet_since = state.last_new_at or state.last_unconditional_at
    long_silence_at = quiet_since + timedelta(
        seconds=VERIFY_AFTER_GAPS * mean_gap(publications, quiet_since, now, count_silence=False)
    )
    return now >= long_silence_at and state.last_unconditional_at < long_silence_at
