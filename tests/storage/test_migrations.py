"""Every schema change ships with a migration that keeps existing data."""

import pytest
from sqlalchemy import text

from storage.db import (
    SCHEMA_HEAD,
    SchemaError,
    current_revision,
    make_engine,
    prepare_for_writing,
    upgrade,
)


def test_upgrading_from_the_first_revision_keeps_the_data(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sources (id, name, mode, url, created_at) VALUES (1, 'mofa', 'listing', 'https://mofa.gov.pk/press-releases/', '2025-07-25 10:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO items (id, source_id, url, url_key, title, fetched_at, text, content_hash)"
                " VALUES (1, 1, 'https://mofa.gov.pk/a', 'mofa.gov.pk/a', 'Dar meets Rubio',"
                " '2025-07-25 11:00:00', 'The long term Pakistan-US partnership.', 'h')"
            )
        )
        connection.execute(
            text(
                'INSERT INTO keyword_matches (item_id, keyword, field, start, "end", snippet, created_at)'
                " VALUES (1, 'Pakistan-US', 'text', 14, 25, 'long term Pakistan-US partnership', '2025-07-25 11:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO crawl_runs (source_id, started_at, status, pages, new_items, flagged, skipped,"
                " errors, error_kinds) VALUES (1, '2025-07-25 11:00:00', 'ok', 1, 1, 1, 0, 0, '{}')"
            )
        )

    if SCHEMA_HEAD != "0001":
        with pytest.raises(SchemaError, match="newsmon db upgrade"):
            prepare_for_writing(engine)  # an older schema is refused for writing...
    upgrade(engine)  # ...until it is upgraded
    assert current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as connection:
        assert connection.execute(text("SELECT title, text FROM items")).one() == (
            "Dar meets Rubio",
            "The long term Pakistan-US partnership.",
        )
        assert connection.execute(text("SELECT keyword, snippet FROM keyword_matches")).one() == (
            "Pakistan-US",
            "long term Pakistan-US partnership",
        )
        assert connection.execute(text("SELECT status FROM crawl_runs")).scalar() == "ok"
    engine.dispose()


def test_validators_keyed_by_url_are_rekeyed_by_digest_and_keep_no_secret(database_url):
    from storage.urlkeys import url_digest
    from storage.validators import Validators, validators_for

    engine = make_engine(database_url)
    upgrade(engine, "0005")
    secret = "https://example.com/feed.xml?api_key=k3y-Xv3Lm2pQ"
    urls = [secret, *(f"https://example.com/news/{n}.html" for n in range(2_100))]  # 3 chunks
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO http_validators (url, etag, last_modified, body_hash, status,"
                " checked_at) VALUES (:url, :etag, NULL, 'ab', 200, '2025-07-25 11:00:00')"
            ),
            [{"url": url, "etag": f'"{n}"'} for n, url in enumerate(urls)],
        )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT url_digest, url FROM http_validators")).all()
    assert len(rows) == len(urls) and "k3y" not in repr(rows)
    assert url_digest(secret) in {digest for digest, _ in rows}
    assert "https://example.com/feed.xml?api_key=***" in {url for _, url in rows}
    # Still found by the URL as requested, so the next conditional GET goes out as before.
    assert validators_for(engine, [secret, urls[-1]]) == {
        secret: Validators('"0"', None, "ab"),
        urls[-1]: Validators(f'"{len(urls) - 1}"', None, "ab"),
    }
    engine.dispose()
