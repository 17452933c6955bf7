"""Flagged items per rule, day and source; the dates spike detection counts."""

from datetime import timedelta

from storage.trends import first_flagged, flagged_dates, flagged_per_day
from tests.services import newsmon_engine
from tests.storage.recent import BURST, build


def test_every_day_of_the_period_is_counted_per_source(tmp_path):
    engine = newsmon_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    stored = build(engine)
    trends = {trend.keyword: trend for trend in flagged_per_day(engine, 10)}
    assert sorted(trends) == ["Kashmir", "Pakistan-US"]
    kashmir = trends["Kashmir"]
    assert [day.day for day in kashmir.days] == [
        stored.now.date() - timedelta(days=9 - n) for n in range(10)
    ]
    for day in kashmir.days:
        assert day.by_source == dict(stored.per_day.get(("Kashmir", day.day), {}))
    assert trends["Pakistan-US"].days[-1].total == stored.count("Pakistan-US", stored.now.date())
    assert kashmir.sources[0] in ("app", "tribune")  # most items first
    recent_dates = flagged_dates(engine, "Pakistan-US", stored.now - timedelta(hours=1))
    assert len(recent_dates) == BURST and recent_dates == sorted(recent_dates)
    first = first_flagged(engine, ["Pakistan-US", "Kashmir", "nothing"])
    assert set(first) == {"Pakistan-US", "Kashmir"}
    assert first["Kashmir"] < stored.now - timedelta(days=21)
    engine.dispose()
