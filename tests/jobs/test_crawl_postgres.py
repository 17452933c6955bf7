"""The crawl on PostgreSQL, and concurrent writers on both databases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.corpus import GOLDEN
from tests.jobs.helpers import REPO, newsmon, write_config
from tests.jobs.test_crawl import FEEDS
from tests.services import query

pytestmark = pytest.mark.slow


def scalar(url: str, sql: str):
    [(value,)] = query(url, sql)
    return value


def test_the_whole_pipeline_runs_on_postgresql(tmp_path, site, postgres_url):
    config = write_config(tmp_path, site, FEEDS, database=postgres_url)
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    assert scalar(postgres_url, "select count(*) from items") == len(GOLDEN)
    flagged = scalar(
        postgres_url,
        "select string_agg(distinct i.title, '|') from items i"
        " join keyword_matches m on m.item_id = i.id where m.keyword = 'Pakistan-US'",
    )
    assert GOLDEN["dar-rubio"]["item"]["title"] in flagged
    assert newsmon(config, "crawl").returncode == 0
    assert scalar(postgres_url, "select count(*) from items") == len(GOLDEN)
    items = newsmon(config, "items", "--keyword", "Pakistan-US", "--format", "jsonl")
    assert items.returncode == 0 and len(items.stdout.splitlines()) == 3


TWIN_SOURCES = """
  - name: first
    feed: {base}/feeds/rss2.xml
  - name: second
    feed: {base}/feeds/rss2.xml
"""


def test_two_crawls_writing_the_same_articles_at_once_store_each_once(tmp_path, site, database_url):
    config = write_config(tmp_path, site, TWIN_SOURCES, database=database_url)
    command = [sys.executable, "-m", "jobs.cli", "--config", str(config), "crawl", "--source"]
    # Two processes, not one: the rows race through the database's unique constraint.
    children = [
        subprocess.Popen(
            [*command, name],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
    assert scalar(database_url, "select count(*) from items") == 4
    assert scalar(database_url, "select count(distinct url_key) from items") == 4
    matches = scalar(database_url, "select count(*) from keyword_matches")
    unique = scalar(
        database_url,
        "select count(*) from (select distinct item_id, keyword, field, start from keyword_matches) m",
    )
    assert matches == unique
