"""The crawl on PostgreSQL, and concurrent writers on both databases."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from jobs.localsite import LocalSite
from tests.conftest import FIXTURE_SITE_ROOT
from tests.jobs.helpers import REPO, newsmon, write_config
from tests.jobs.test_crawl import EXPECTED, FEEDS
from tests.postgres import throwaway_database, throwaway_schema


@pytest.fixture(scope="module")
def postgres_database():
    with throwaway_database() as url:
        yield url


@pytest.fixture
def site():
    with LocalSite(FIXTURE_SITE_ROOT) as site:
        yield site


def scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_the_whole_pipeline_runs_on_postgresql(tmp_path, site, postgres_database):
    with throwaway_schema(postgres_database) as url:
        config = write_config(tmp_path, site, FEEDS, database=url)
        result = newsmon(config, "crawl")
        assert result.returncode == 0, result.stderr
        assert scalar(url, "select count(*) from items") == len(EXPECTED)
        flagged = scalar(
            url,
            "select string_agg(distinct i.title, '|') from items i"
            " join keyword_matches m on m.item_id = i.id where m.keyword = 'Pakistan-US'",
        )
        assert EXPECTED["dar-rubio"]["title"] in flagged
        assert newsmon(config, "crawl").returncode == 0
        assert scalar(url, "select count(*) from items") == len(EXPECTED)
        items = newsmon(config, "items", "--keyword", "Pakistan-US", "--format", "jsonl")
        assert items.returncode == 0 and len(items.stdout.splitlines()) == 3


TWIN_SOURCES = """
  - name: first
    feed: {base}/feeds/rss2.xml
  - name: second
    feed: {base}/feeds/rss2.xml
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_crawls_writing_the_same_articles_at_once_store_each_once(
    tmp_path, site, backend, request
):
    def crawl_both(url: str) -> None:
        config = write_config(tmp_path, site, TWIN_SOURCES, database=url)
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
        assert scalar(url, "select count(*) from items") == 4
        assert scalar(url, "select count(distinct url_key) from items") == 4
        matches = scalar(url, "select count(*) from keyword_matches")
        unique = scalar(
            url,
            "select count(*) from (select distinct item_id, keyword, field, start from keyword_matches) m",
        )
        assert matches == unique

    if backend == "sqlite":
        crawl_both(f"sqlite:///{tmp_path / 'newsmon.db'}")
    else:
        with throwaway_schema(request.getfixturevalue("postgres_database")) as url:
            crawl_both(url)
