"""`items --limit N` past one page, and `stats --chart` (jobs/cli/query.py), as child processes."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from storage.crawlstate import ensure_source
from storage.queries import ArticleRecord, store_articles
from storage.search import MAX_PAGE
from tests.jobs.helpers import newsmon
from tests.services import newsmon_engine
from tests.storage.recent import recent_store

MANY = MAX_PAGE + 150
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    engine = newsmon_engine(f"sqlite:///{folder / 'newsmon.db'}")
    source = ensure_source(engine, "dawn", "feed", "https://dawn.example/feed")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store_articles(
        engine,
        source,
        [
            ArticleRecord(
                url=f"https://dawn.example/{n}",
                url_key=f"dawn.example/{n}",
                title=f"Item {n}",
                text=f"Story number {n}.",
                content_hash=str(n).rjust(64, "0"),
                published_at=start + timedelta(minutes=n),
            )
            for n in range(MANY)
        ],
    )
    engine.dispose()
    config = folder / "config.yaml"
    config.write_text(
        "database: sqlite:///newsmon.db\nsources:\n  - name: dawn\n    feed: https://dawn.example/feed\n"
    )
    return config


def test_a_limit_past_one_page_streams_every_item(many):
    result = newsmon(many, "items", "--limit", "5000", "--format", "jsonl", "--fields", "id,title")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == MANY and len({line["id"] for line in lines}) == MANY
    assert lines[0]["title"] == f"Item {MANY - 1}"  # newest first, across pages
    assert "next-cursor" not in result.stderr
    cut = newsmon(many, "items", "--limit", str(MAX_PAGE + 20), "--format", "table")
    assert cut.returncode == 0, cut.stderr
    assert len(cut.stdout.splitlines()) == 1 + MAX_PAGE + 20  # a header, then the rows
    page = newsmon(many, "items", "--limit", "10", "--format", "jsonl")
    assert len(page.stdout.splitlines()) == 10 and "next-cursor: " in page.stderr
    assert newsmon(many, "items", "--limit", "0").returncode == 2


def test_stats_chart_writes_the_dashboards_chart_as_svg(tmp_path):
    config, stored = recent_store(tmp_path)
    out = tmp_path / "trend.svg"
    result = newsmon(config, "stats", "--chart", str(out), "--keyword", "Kashmir", "--days", "7")
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0"')
    root = ET.fromstring(text.split("\n", 1)[1])
    (chart,) = [svg for svg in root.iter(f"{SVG}svg") if svg.get("data-keyword")]
    days = {g.get("data-day"): int(g.get("data-count")) for g in chart.iter(f"{SVG}g")}
    assert len(days) == 7
    for day, count in days.items():
        assert count == stored.count("Kashmir", datetime.fromisoformat(day).date()), day
    both = newsmon(config, "stats", "--chart", str(out))
    assert both.returncode == 0 and "2 rule(s), 14 days" in both.stderr
    missing = newsmon(config, "stats", "--chart", str(out), "--keyword", "nothing")
    assert missing.returncode == 1 and "has flagged nothing" in missing.stderr
