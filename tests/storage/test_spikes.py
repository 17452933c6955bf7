"""The spike detector (a pure function, table-driven) and the alert state it leaves."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from storage import spikes
from storage.spikes import Detector, day_spikes, judge, window_counts
from tests.services import newsmon_engine

STEADY = [5, 4, 6, 5, 5, 4, 6, 5, 5, 6, 4, 5]
QUIET = [0] * 56
SLOW_RISE = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


@pytest.mark.parametrize(
    ("case", "count", "history", "spike"),
    [
        ("steady rule, an ordinary window", 6, STEADY, False),
        ("steady rule, a burst", 20, STEADY, True),
        ("quiet rule, its second item", 2, QUIET, False),
        ("quiet rule, a burst", 6, QUIET, True),
        ("no history at all", 50, [], False),
        ("too little history", 50, [0, 1, 0], False),
        ("slow rise, the next step", 7, SLOW_RISE, False),
        ("slow rise, then a jump", 16, SLOW_RISE, True),
        ("flat at two a day, then three", 3, [2] * 14, False),
        ("a burst at the minimum count", 3, QUIET, True),
    ],
)
def test_a_spike_is_far_above_the_rules_own_baseline(case, count, history, spike):
    assert judge(count, history).spike is spike, case


@pytest.mark.parametrize(
    ("count", "calm"),
    [(20, False), (9, False), (6, True), (0, True)],
)
def test_a_spike_is_over_once_back_within_one_sigma(count, calm):
    verdict = judge(count, STEADY)
    assert verdict.calm is calm
    assert verdict.sd == pytest.approx(math.sqrt(5))  # a flat history varies by √mean
    assert verdict.threshold == pytest.approx(verdict.mean + 3 * verdict.sd)


def test_windows_start_at_the_rules_first_item():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    hours = [now - timedelta(hours=h, minutes=30) for h in (0, 1, 2, 7, 13, 30)]
    first = now - timedelta(hours=30, minutes=30)
    count, history = window_counts(hours, now, first)
    assert count == 3  # the last 6 hours
    assert history == [1, 1, 0, 0]  # (6-12 h], (12-18 h], (18-24 h], (24-30 h]; not before
    assert window_counts(hours, now, None) == (3, [])  # a rule that never flagged anything
    short = Detector(window=timedelta(hours=12), baseline=timedelta(days=1))
    assert window_counts(hours, now, now - timedelta(days=3), short) == (4, [1, 1])


def test_day_marks_judge_each_day_against_the_days_before_it():
    counts = [0, 0, 2, 1, 2, 1, 2, 1, 12, 2, 0]
    assert [n for n, marked in enumerate(day_spikes(counts)) if marked] == [8]
    assert not any(day_spikes([0] * 10 + [40]))  # no history before the first item


def test_a_channel_keeps_one_open_spike_per_rule_until_it_ends(tmp_path):
    engine = newsmon_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    verdict = judge(20, STEADY)
    spikes.start_spike(engine, "desk", "Pakistan-US", verdict)
    opened = spikes.open_spikes(engine, "desk")
    assert list(opened) == ["Pakistan-US"] and opened["Pakistan-US"].items == 20
    assert spikes.open_spikes(engine, "other") == {}
    spike_id = opened["Pakistan-US"].id
    spikes.record_attempt(engine, spike_id, "ConnectionError: refused")
    assert [s.status for s in spikes.unsent(engine, "desk")] == ["failed"]
    assert spikes.spike_counts(engine)["desk"]["last_error"] == "ConnectionError: refused"
    spikes.record_attempt(engine, spike_id, None)
    assert spikes.unsent(engine, "desk") == []
    assert spikes.spike_counts(engine)["desk"]["sent"] == 1
    spikes.end_spike(engine, spike_id)
    assert spikes.open_spikes(engine, "desk") == {}
    engine.dispose()
