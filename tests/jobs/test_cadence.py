"""The adaptive-schedule estimator, table-driven: rates, bursts, silence, server hints,
failures, the every-entry-new case and when a conditional GET is verified."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from crawler.config.models import Adaptive, Schedule
from jobs.cadence import (
    Hints,
    Observation,
    deeper,
    hints_from,
    mean_gap,
    plan_next,
    send_unconditional,
)
from storage.cadence import Appearance, CadenceState

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ADAPTIVE = Schedule(adaptive=Adaptive(min=300, max=12 * 3600))
MIN, MAX = 300.0, 12 * 3600.0


def every(gap: timedelta, count: int, last: datetime = NOW) -> list[Appearance]:
    return sorted(Appearance(last - gap * i) for i in range(count))


def state(**changes: object) -> CadenceState:
    base = CadenceState(
        interval=1200.0,
        reason="rate",
        next_at=NOW,
        last_poll_at=NOW - timedelta(minutes=20),
        last_unconditional_at=NOW - timedelta(hours=1),
        last_new_at=NOW - timedelta(hours=1),
    )
    return CadenceState(**{**base.__dict__, **changes})


def plan(observation: Observation, publications=(), previous=..., watched=None, schedule=None):
    previous = state() if previous is ... else previous
    rng = random.Random(1)
    return plan_next(
        schedule or ADAPTIVE, previous, observation, list(publications), NOW, rng, watched
    )


UNCHANGED = Observation(NOW, "unchanged")
HOURLY = every(timedelta(hours=1), 14 * 24)


@pytest.mark.parametrize(
    ("case", "observation", "publications", "previous", "interval", "reason"),
    [
        # sqrt(min x gap): an hourly source every ~17 minutes.
        ("steady hourly", UNCHANGED, HOURLY, ..., math.sqrt(MIN * 3600 * 336 / 337), "rate"),
        # 6 new items in the 20 minutes since the last poll: a burst, at the floor at once.
        ("burst", Observation(NOW, "changed", entries_new=6), HOURLY[-3:], ..., MIN, "rate"),
        ("newly added", UNCHANGED, [], None, MIN, "new"),
        # A backlog with dates: learned from the first crawl.
        (
            "new with backlog",
            Observation(NOW, "changed", entries_seen=20, entries_new=20),
            every(timedelta(hours=6), 20),
            None,
            math.sqrt(MIN * (19 * 6 * 3600) / 21),
            "rate",
        ),
        # Silent for the whole window: the gap is the window, within bounds.
        ("silent", UNCHANGED, [], ..., math.sqrt(MIN * 14 * 86400), "rate"),
        ("feed ttl", Observation(NOW, "unchanged", Hints(ttl=7200)), HOURLY, ..., 7200, "ttl"),
        ("max-age", Observation(NOW, "unchanged", Hints(max_age=3000)), HOURLY, ..., 3000, "ttl"),
        ("ttl capped", Observation(NOW, "unchanged", Hints(ttl=86400)), HOURLY, ..., MAX, "ttl"),
        (
            "every entry new",
            Observation(NOW, "changed", entries_seen=20, entries_new=20),
            HOURLY,
            ...,
            MIN,
            "burst",
        ),
        ("first failure", Observation(NOW, "failed"), HOURLY, ..., 2400, "backoff"),
        ("third failure", Observation(NOW, "failed"), HOURLY, state(failures=2), 4800, "backoff"),
        ("failures cap", Observation(NOW, "failed"), HOURLY, state(failures=500), MAX, "backoff"),
        (
            "retry-after",
            Observation(NOW, "failed", Hints(retry_after=9000)),
            HOURLY,
            ...,
            9000,
            "retry-after",
        ),
    ],
)
def test_the_interval_follows_the_source(
    case, observation, publications, previous, interval, reason
):
    watched = None if previous is None else NOW - timedelta(days=30)
    planned = plan(observation, publications, previous, watched)
    assert planned.interval == pytest.approx(interval, rel=0.01), case
    assert planned.reason == reason, case
    assert MIN <= planned.interval <= MAX
    spread = (planned.next_at - NOW).total_seconds() / planned.interval
    assert 0.9 <= spread <= 1.1, "runs get +-10% jitter"


def test_a_source_that_publishes_often_is_polled_more_often():
    intervals = [
        plan(UNCHANGED, every(gap, 400)).interval
        for gap in (timedelta(minutes=15), timedelta(hours=2), timedelta(days=1), timedelta(days=7))
    ]
    assert intervals == sorted(intervals)
    assert intervals[0] < 2 * MIN and intervals[-1] > 10 * intervals[0]


def test_a_source_that_fell_silent_slows_down():
    # Hourly for a week, then nothing for six days.
    busy_then_quiet = every(timedelta(hours=1), 24 * 7, last=NOW - timedelta(days=6))
    quiet = plan(UNCHANGED, busy_then_quiet, watched=NOW - timedelta(days=30)).interval
    busy = plan(UNCHANGED, HOURLY, watched=NOW - timedelta(days=30)).interval
    assert quiet > 4 * busy


def noon_and_night(publications: list[Appearance]) -> tuple[float, float]:
    """The intervals planned at noon and at 2 a.m. from the same history."""
    night = NOW.replace(hour=2)
    at_noon = plan_next(ADAPTIVE, state(), UNCHANGED, publications, NOW, random.Random(1))
    at_night = plan_next(
        ADAPTIVE, state(), Observation(night, "unchanged"), publications, night, random.Random(1)
    )
    return at_noon.interval, at_night.interval


def test_the_daily_cycle_shapes_the_interval():
    office_hours = [
        Appearance(NOW.replace(hour=hour) - timedelta(days=day))
        for day in range(1, 14)
        for hour in range(9, 17)
    ]
    at_noon, at_night = noon_and_night(office_hours)
    assert at_night > 1.5 * at_noon


def test_bare_days_make_no_daily_cycle():
    # A first crawl's history dated to the day only: taken at noon, and none of it an hour.
    bare_days = [
        Appearance(NOW.replace(hour=12) - timedelta(days=day), timed=False)
        for day in range(1, 14)
        for _ in range(8)
    ]
    at_noon, at_night = noon_and_night(bare_days)
    assert at_night <= at_noon  # only the silence since the last noon differs; as hours, 4x


def test_failures_back_off_linearly_and_never_stop():
    current = state(interval=600.0)
    intervals = []
    for _ in range(100):
        current = plan(Observation(NOW, "failed"), HOURLY, current)
        intervals.append(current.interval)
    assert intervals[:3] == [1200.0, 1800.0, 2400.0]
    assert intervals[-1] == MAX and current.failures == 100
    recovered = plan(UNCHANGED, HOURLY, current, NOW - timedelta(days=30))
    assert recovered.failures == 0 and recovered.reason == "rate"
    assert recovered.interval < 1200


def test_every_entry_new_walks_deeper():
    assert deeper(Observation(NOW, "changed", entries_seen=20, entries_new=20))
    assert not deeper(Observation(NOW, "changed", entries_seen=20, entries_new=3))
    assert not deeper(Observation(NOW, "changed"))  # entries unknown


def test_fixed_schedules_are_kept_and_reported_as_fixed():
    planned = plan(UNCHANGED, HOURLY, schedule=Schedule(every=600))
    assert (planned.interval, planned.reason) == (600, "fixed")


def test_a_first_crawl_counts_as_a_verification_so_the_next_poll_may_trust_a_304():
    first = plan(Observation(NOW, "changed", entries_seen=5, entries_new=5), previous=None)
    assert first.last_unconditional_at == NOW  # it had no validators to send
    assert not send_unconditional(ADAPTIVE, first, NOW + timedelta(minutes=5))
    failed = plan(Observation(NOW, "failed"), previous=None)
    assert failed.last_unconditional_at is None  # nothing was verified


def test_a_lying_304_turns_conditional_requests_off():
    caught = plan(Observation(NOW, "changed", conditional_sent=False, validators_lied=True))
    assert caught.conditional is False
    assert "304" in (caught.conditional_note or "")
    assert caught.last_unconditional_at == NOW
    assert send_unconditional(ADAPTIVE, caught, NOW + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("case", "previous", "configured", "expected"),
    [
        ("first poll: nothing to be conditional with", None, None, False),
        ("never verified", state(last_unconditional_at=None), None, True),
        ("verified an hour ago", state(), None, False),
        (
            "verified longer than max ago",
            state(last_unconditional_at=NOW - timedelta(hours=13)),
            None,
            True,
        ),
        ("user says conditional: false", state(), False, True),
        ("caught lying before", state(conditional=False), None, True),
        (
            "silent for four usual gaps since the last verification",
            state(
                last_new_at=NOW - timedelta(hours=5),
                last_unconditional_at=NOW - timedelta(hours=4, minutes=30),
            ),
            None,
            True,
        ),
        (
            "already verified during this silence",
            state(
                last_new_at=NOW - timedelta(hours=11),
                last_unconditional_at=NOW - timedelta(hours=1),
            ),
            None,
            False,
        ),
    ],
)
def test_when_a_poll_goes_out_unconditionally(case, previous, configured, expected):
    publications = HOURLY[:-5]  # hourly until 5 hours ago: a usual gap of about an hour
    assert send_unconditional(ADAPTIVE, previous, NOW, publications, configured) is expected, case


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (200, {}, b"<rss><channel><ttl>90</ttl><item/></channel></rss>", Hints(ttl=5400)),
        (
            200,
            {},
            b"<rdf><sy:updatePeriod>daily</sy:updatePeriod>"
            b"<sy:updateFrequency>4</sy:updateFrequency></rdf>",
            Hints(ttl=21600),
        ),
        (200, {}, b"<rss><sy:updatePeriod>fortnightly</sy:updatePeriod></rss>", Hints()),
        (200, {"Cache-Control": "public, max-age=600"}, None, Hints(max_age=600)),
        (200, {"cache-control": "no-cache, max-age=600"}, None, Hints()),
        (
            200,
            {"Expires": "Wed, 02 Dec 2026 13:00:00 GMT", "Date": "Wed, 02 Dec 2026 12:00:00 GMT"},
            None,
            Hints(max_age=3600),
        ),
        (429, {"Retry-After": "120"}, None, Hints(retry_after=120)),
        (503, {"Retry-After": "Wed, 02 Dec 2026 12:30:00 GMT"}, None, Hints(retry_after=1800)),
        (200, {"Retry-After": "120"}, None, Hints()),  # only with 429 and 503
        (200, {"Cache-Control": "max-age=banana", "Expires": "soon"}, b"<ttl>x</ttl>", Hints()),
    ],
)
def test_server_hints(status, headers, body, expected):
    assert hints_from(status, headers, body, NOW) == expected


def test_the_gap_counts_the_silence_before_the_first_item():
    assert mean_gap([], NOW - timedelta(days=3), NOW) == pytest.approx(3 * 86400)
    assert mean_gap([], None, NOW) == 1.0  # nothing known: poll at the floor
