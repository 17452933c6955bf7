"""Schedules: config validation, cron weekdays, and when a source is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.config.file import ConfigError
from crawler.config.load import load_config
from crawler.config.models import Schedule
from crawler.config.schedules import cron_weekdays
from jobs.schedule import is_due, next_due

NOW = datetime(2025, 7, 23, 10, 0, 0, tzinfo=UTC)  # a Wednesday


def write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  - name: a\n    feed: https://example.org/feed\n" + text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schedule: {every: 5x}\n", "config.yaml:4: schedule.every: '5x' is not a duration"),
        ('schedule: {cron: "* * * *"}\n', "config.yaml:4: schedule.cron: cron '* * * *' is not valid: needs 5 fields"),
        ('schedule: {cron: "61 * * * *"}\n', "config.yaml:4: schedule.cron: cron '61 * * * *' is not valid"),
        ('schedule: {cron: "0 9 * * 8"}\n', "weekday '8' is out of range"),
        ('schedule: {cron: "0 9 * * *", timezone: Mars/Olympus}\n', "schedule.timezone: unknown timezone 'Mars/Olympus'"),
        ("schedule: {every: 1m, cron: '* * * * *'}\n", "config.yaml:4: schedule: a schedule needs exactly one of adaptive, every or cron"),
        ("schedule: {adaptive: {min: 1h, max: 5m}}\n", "config.yaml:4: schedule.adaptive: max must be at least min"),
        ("schedule: {adaptive: {min: 0s}}\n", "min must be at least 1s"),
        ("schedule: {adaptive: {mn: 5m}}\n", "schedule.adaptive.mn: unknown key 'mn'; did you mean 'min'?"),
        ("schedule: adaptve\n", "config.yaml:4: schedule"),
        ("schedule: {every: 1m, timezone: UTC}\n", "timezone only applies to a cron schedule"),
        ("daemon: {run_timout: 1m}\n", "daemon.run_timout: unknown key 'run_timout'; did you mean 'run_timeout'?"),
    ],
)  # fmt: skip
def test_invalid_schedules_are_config_errors_naming_key_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert message in str(raised.value)


def test_adaptive_is_the_default_and_takes_any_bounds(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n  - name: a\n    feed: https://example.org/feed\n"
        "  - name: b\n    feed: https://example.org/b\n    schedule: adaptive\n"
        "  - name: c\n    feed: https://example.org/c\n"
        "    schedule: {adaptive: {min: 3s, max: 90s}}\n    conditional: false\n"
    )
    config = load_config(path)
    a, b, c = (config.schedule_for(source).adaptive for source in config.sources)
    assert (a.min, a.max) == (b.min, b.max) == (300, 12 * 3600)
    assert (c.min, c.max) == (3, 90)
    assert [source.conditional for source in config.sources] == [None, None, False]


def test_an_adaptive_source_is_due_when_its_plan_says():
    from storage.cadence import CadenceState

    adaptive = Schedule(adaptive={"min": 60, "max": 3600})
    planned = CadenceState(interval=600, reason="rate", next_at=NOW + timedelta(minutes=5))
    assert is_due(adaptive, None, NOW)  # never ran
    assert not is_due(adaptive, NOW - timedelta(seconds=30), NOW)  # no plan yet: min
    assert is_due(adaptive, NOW - timedelta(seconds=61), NOW)
    assert not is_due(adaptive, NOW - timedelta(hours=1), NOW, planned)
    assert is_due(adaptive, NOW - timedelta(hours=1), NOW + timedelta(minutes=5), planned)
    assert next_due(adaptive, NOW, NOW, planned) == planned.next_at


def test_a_source_schedule_overrides_the_default(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n  - name: a\n    feed: https://example.org/feed\n"
        "    schedule: {every: 10m, jitter: 60s}\n    expect_new_within: 3d\n"
        "  - name: b\n    feed: https://example.org/b\n"
        'schedule: {cron: "*/15 6-22 * * *", timezone: Asia/Karachi}\n'
    )
    config = load_config(path)
    a, b = config.sources
    assert config.schedule_for(a) == Schedule(every=600, jitter=60)
    assert a.expect_new_within == 3 * 86400
    assert config.schedule_for(b).cron == "*/15 6-22 * * *"
    assert config.daemon.run_timeout == 900 and config.daemon.max_consecutive_failures == 3


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("sat,sun", "sun,sat"),
        ("*", "*"),
    ],
)
def test_cron_weekdays_count_from_sunday_as_crontab_does(field, days):
    assert cron_weekdays(field) == days


def test_every_is_measured_from_the_last_run_with_a_little_slack():
    every = Schedule(every=600)
    assert is_due(every, None, NOW)  # never ran
    assert not is_due(every, NOW - timedelta(minutes=5), NOW)
    assert is_due(every, NOW - timedelta(minutes=10), NOW)
    # Cron invoked a second early after a run that started a second late: still due.
    assert is_due(every, NOW - timedelta(minutes=9, seconds=58), NOW)


def test_cron_is_due_once_a_fire_time_passed_since_the_last_run():
    quarterly = Schedule(cron="*/15 * * * *")
    later = NOW + timedelta(minutes=1)  # 10:01
    assert next_due(quarterly, NOW + timedelta(seconds=30), later) == NOW + timedelta(minutes=15)
    assert not is_due(quarterly, NOW + timedelta(seconds=30), later)  # ran at 10:00:30
    assert is_due(quarterly, NOW - timedelta(minutes=1), later)  # ran at 09:59: 10:00 passed
    karachi = Schedule(cron="0 9 * * 0", timezone="Asia/Karachi")  # Sundays, 09:00 PKT
    assert next_due(karachi, NOW, NOW) == datetime(2025, 7, 27, 4, 0, tzinfo=UTC)
