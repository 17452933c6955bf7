from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from storage import walks
from storage.crawlstate import ensure_source
from storage.db import SchemaError, make_engine
from storage.models import Base
from storage.queries import (
    ArticleRecord,
    MatchRecord,
    store_articles,
)
from storage.runs import RunOutcome, finish_run, start_run
from storage.transfer import copy_store
from storage.validators import save_validators
from tests.services import newsmon_engine


def populate(engine, items: int) -> None:
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    match = MatchRecord("Pakistan-US", "text", 0, 11, "Pakistan-US talks")
    store_articles(
        engine,
        source_id,
        [
            ArticleRecord(
                url=f"https://example.com/{n}",
                url_key=f"example.com/{n}",
                text=f"Pakistan-US talks, part {n}.",
                content_hash=f"{n:064d}",
                title=f"Talks {n}",
                published_at=datetime(2025, 7, 1 + n % 28, tzinfo=UTC),
                matches=[match] if n % 3 == 0 else [],
            )
            for n in range(items)
        ],
    )
    # Walk state and validators, keyed by URL digests (storage/urlkeys.py), are copied too.
    save_validators(
        engine,
        [{"url": "https://example.com/feed", "etag": '"1"', "last_modified": None,
          "body_hash": "ab", "status": 200}],
    )  # fmt: skip
    progress = walks.Progress(caught_up=[("https://example.com/feed", None)])
    walks.record(engine, source_id, walks.CRAWL, "t", progress)
    walks.start_backfill(engine, source_id, "backfill", 5, None)
    run_id = start_run(engine, source_id, pid=1)
    finish_run(
        engine,
        run_id,
        RunOutcome("partial", pages=items, new_items=items, errors=1, error_kinds={"http_404": 1}),
    )


def snapshot(engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))
            ]
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def sqlite_store(tmp_path):
    engine = newsmon_engine(f"sqlite:///{tmp_path / 'old.db'}")
    populate(engine, 25)
    return engine


def test_a_sqlite_store_is_copied_to_postgresql_exactly_and_idempotently(
    sqlite_store, postgres_url
):
    target = newsmon_engine(postgres_url)
    seen = []
    copies = copy_store(sqlite_store, target, progress=lambda *args: seen.append(args), batch=10)
    assert snapshot(target) == snapshot(sqlite_store)
    assert {c.table: c.copied for c in copies}["items"] == 25
    assert ("items", 25, 25) in seen  # progress reached the end in batches
    assert ("items", 10, 25) in seen

    again = copy_store(sqlite_store, target)
    assert all(copy.copied == 0 for copy in again)
    assert snapshot(target) == snapshot(sqlite_store)

    # The id sequences moved past the copied rows: new rows get fresh ids.
    copied_ids = [row[0] for row in snapshot(target)["sources"]]
    assert ensure_source(target, "mofa", "listing", "https://example.org/press/") > max(copied_ids)
    target.dispose()


def test_stores_at_different_schema_revisions_are_refused(sqlite_store, tmp_path):
    other = newsmon_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaError, match="schema revision"):
        copy_store(sqlite_store, other)
    assert snapshot(other)["items"] == []


def test_the_cli_copies_a_sqlite_store_into_postgresql(sqlite_store, postgres_url, tmp_path):
    from tests.jobs.helpers import newsmon

    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {postgres_url}\nsources:\n  - name: tribune\n    feed: https://example.com/feed\n"
    )
    result = newsmon(config, "db", "migrate-from", str(sqlite_store.url))
    assert result.returncode == 0, result.stderr
    assert "items" in result.stdout and "25 copied" in result.stdout
    target = make_engine(postgres_url)
    assert snapshot(target) == snapshot(sqlite_store)
    target.dispose()
    missing = newsmon(config, "db", "migrate-from", f"sqlite:///{tmp_path / 'missing.db'}")
    assert missing.returncode == 1 and "no SQLite database" in missing.stderr
    assert not (tmp_path / "missing.db").exists()
    assert newsmon(config, "db", "migrate-from", "not a url").returncode == 2
