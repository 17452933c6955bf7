"""Text that cannot be stored, and items the database refuses, on SQLite and PostgreSQL.

An item is stored cleaned, or counted as a `store` error with its run not `ok`; never lost
silently, and never taking the rest of its batch with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.jobs.helpers import newsmon, write_config
from tests.jobs.newssite import Layout, NewsSite
from tests.localsite import LocalSite
from tests.services import query

pytestmark = pytest.mark.slow


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def last_run(url: str) -> tuple:
    return query(
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


def test_bad_text_in_feed_hints_is_stored_cleaned_and_the_run_is_ok(tmp_path, site, database_url):
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
        tmp_path,
        site,
        "  - name: wire\n    feed: {base}/wire/feed.json\n",
        database=database_url,
    )
    for _ in range(2):
        result = newsmon(config, "crawl")
        assert result.returncode == 0, result.stderr
        assert last_run(database_url)[0] == "ok", result.stdout
    authors = sorted(author for (author,) in query(database_url, "select author from items"))
    assert authors == sorted(
        ["\ufffd", "StaffReporter", "Desk[31m", "Tab\tand\nnewline", "Kamran Yousaf"]
    )


REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.url LIKE '%story-00002%'"
        " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.url LIKE '%story-00002%'"
        " THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$"
        " LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def test_an_item_the_database_refuses_fails_alone_and_is_stored_by_the_next_run(
    tmp_path, site, database_url
):
    news = NewsSite(site, Layout(feed=5))
    config = write_config(tmp_path, site, news.sources(["feed"]), database=database_url)
    assert newsmon(config, "db", "upgrade").returncode == 0
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    execute(database_url, *REFUSE[backend])

    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr  # partial: the other items are stored
    status, new, errors, kinds = last_run(database_url)
    assert (status, new, errors) == ("partial", 4, 1)
    assert kinds == {"store": 1} or json.loads(kinds) == {"store": 1}
    assert "refused by a test trigger" in first.stderr

    execute(database_url, "DROP TRIGGER refuse" + (" ON items" if backend == "postgresql" else ""))
    again = newsmon(config, "crawl")
    assert again.returncode == 0, again.stderr
    assert last_run(database_url)[:3] == ("ok", 1, 0)
    stored = [url for (url,) in query(database_url, "select url from items")]
    assert len(stored) == len(set(stored)) == 5
