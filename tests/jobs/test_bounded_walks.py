"""The bounds and guards of issue 14 against the walks of issue 13: a walk cut short by a
bound that may let it finish another time is not caught up; one that skipped something on
purpose (a configured limit, a policy) is, for that configuration.

Each crawl is a real `newsmon crawl` in a child process against a local site.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.localsite import LocalSite
from tests.faults.child import start_newsmon
from tests.jobs.helpers import newsmon, write_config
from tests.jobs.newssite import Layout, NewsSite


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


def test_a_discovery_page_its_reader_breaks_on_leaves_its_walk_unfinished(tmp_path, site):
    news = NewsSite(site, Layout(feed=3))
    config = write_config(tmp_path, site, news.sources(["feed"]))
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "crawl").returncode == 0
    assert query(db, "select caught_up from discovery_walks") == [(1,)]

    # The feed changed, and reading it (in the worker thread) raises.
    news.serve_text(
        "/wire/feed.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title></channel></rss>',
        "application/rss+xml",
    )
    child = start_newsmon(
        config,
        "crawl",
        env={"NEWSMON_TEST_FAILING_READ": "/wire/feed.xml"},
        hook="tests.jobs.pipeline_faults",
    )
    _, stderr = child.communicate(timeout=120)
    assert "a bug in the feed reader" in stderr
    # Walking, not still caught up from the run before: no later shortcut trusts that walk.
    assert query(db, "select caught_up from discovery_walks") == [(0,)]
