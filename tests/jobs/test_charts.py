"""The trend chart: bars per day match the stored counts, spikes are marked, names escaped."""

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from jobs.charts import chart_document, charted_trends, trend_svg
from storage.trends import DayCount, Trend
from tests.services import newsmon_engine
from tests.storage.recent import build

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def recent(tmp_path_factory):
    engine = newsmon_engine(f"sqlite:///{tmp_path_factory.mktemp('charts') / 'newsmon.db'}")
    yield engine, build(engine)
    engine.dispose()


def bars(svg: str) -> dict[str, tuple[int, dict[str, int], bool]]:
    """day -> (count, count per source from the rects, marked as a spike) read from the SVG."""
    root = ET.fromstring(svg)
    found = {}
    for group in root.iter(f"{SVG}g"):
        rects = {r.get("data-source"): int(r.get("data-count")) for r in group.iter(f"{SVG}rect")}
        spike = any(p.get("class") == "spike-mark" for p in group.iter(f"{SVG}path"))
        found[group.get("data-day")] = (int(group.get("data-count")), rects, spike)
    return found


def test_each_bar_is_the_days_flagged_items_stacked_by_source(recent):
    engine, stored = recent
    charted = dict((trend.keyword, (trend, marks)) for trend, marks in charted_trends(engine, 30))
    assert set(charted) == {"Kashmir", "Pakistan-US"}
    for rule, (trend, marks) in charted.items():
        drawn = bars(trend_svg(trend, marks))
        assert len(drawn) == 30
        for day, (count, by_source, _) in drawn.items():
            expected = stored.per_day.get((rule, date.fromisoformat(day)), {})
            assert count == sum(expected.values()), (rule, day)
            assert by_source == {name: n for name, n in expected.items() if n}, (rule, day)
    today = stored.now.date().isoformat()
    assert bars(trend_svg(*charted["Pakistan-US"]))[today][0] == stored.count(
        "Pakistan-US", stored.now.date()
    )
    # A day's own burst against the days before it: today is a spike for Pakistan-US only.
    assert charted["Pakistan-US"][1][-1] and not any(charted["Kashmir"][1])


def test_the_period_and_the_keyword_choose_what_is_drawn(recent):
    engine, stored = recent
    (only,) = charted_trends(engine, 7, "Kashmir")
    assert only[0].keyword == "Kashmir" and len(only[0].days) == 7
    assert only[0].days[-1].day == stored.now.date()
    assert only[0].days[0].day == stored.now.date() - timedelta(days=6)
    document = chart_document(charted_trends(engine, 90))
    root = ET.fromstring(document.split("\n", 1)[1])
    assert [svg.get("data-keyword") for svg in root.iter(f"{SVG}svg")][1:] == [
        "Kashmir",
        "Pakistan-US",
    ]


def test_names_are_escaped_and_the_svg_stays_inert():
    hostile = '<script>alert(1)</script>"&'
    trend = Trend(hostile, [DayCount(date(2026, 1, 1), {hostile: 2, "dawn": 1})])
    svg = trend_svg(trend, [True])
    root = ET.fromstring(svg)  # well-formed whatever the names hold
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert root.get("data-keyword") == hostile
    assert bars(svg)["2026-01-01"] == (3, {hostile: 2, "dawn": 1}, True)
