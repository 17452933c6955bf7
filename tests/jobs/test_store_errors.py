"""Text that cannot be stored, and items the database refuses, on SQLite and PostgreSQL.

An item is stored cleaned, or counted as a `store` error with its run not `ok`; never lost
silently, and never taking the rest of its batch with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from jobs.localsite import LocalSite
from tests.jobs.helpers import newsmon, write_config
from tests.jobs.newssite import Layout, NewsSite
from tests.postgres import throwaway_database, throwaway_schema


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsmon.db'}"
    else:
        with throwaway_schema(request.getfixturevalue("postgres_database")) as url:
            yield url


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def fetch(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def last_run(url: str) -> tuple:
    return fetch(
        url, "select status, new_items, errors, error_kinds from crawl_runs order by id desc"
    )[0]


# Authors as a JSON Feed can carry them: a lone surrogate, a NUL, other control characters.
AUTHORS = [
    "\ud800",
    "Staff\u0000Reporter",
    "Desk\x07\x1b[31m",
    "Tab\tand\nnewline",
    "Kamran Yousaf",
]


@pytest.mark.xfail(strict=True, reason="issue 13: reproduced, not fixed yet")
def test_bad_text_in_feed_hints_is_stored_cleaned_and_the_run_is_ok(tmp_path, site, database):
    news = NewsSite(site, Layout(feed=5))
    entries = [
        {
            "id": path,
            "url": site.url(path),
            "title": f"Entry \udfff{n}\u0000",
            "authors": [{"name": author}],
        }
        for n, (path, author) in enumerate(zip(news.sections["feed"], AUTHORS, strict=True))
    ]
    # ensure_ascii keeps the lone surrogates as \\ud800 escapes, as a server's JSON would.
    site.add(
        "/wire/feed.json",
        json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": entries}),
        content_type="application/feed+json",
    )
    config = write_config(
        tmp_path, site, "  - name: wire\n    feed: {base}/wire/feed.json\n", database=database
    )
    for _ in range(2):
        result = newsmon(config, "crawl")
        assert result.returncode == 0, result.stderr
        assert last_run(database)[0] == "ok", result.stdout
    authors = sorted(author for (author,) in fetch(database, "select author from items"))
    assert authors == sorted(
        ["\ufffd", "StaffReporter", "Desk[31m", "Tab\tand\nnewline", "Kamran Yousaf"]
    )
