"""Source rows in Core, on SQLite and PostgreSQL."""

from sqlalchemy import text

from storage.crawlstate import ensure_source


def test_ensure_source_is_stable(engine):
    first = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    assert ensure_source(engine, "tribune", "feed", "https://example.com/new-feed") == first
    with engine.connect() as connection:
        assert (
            connection.execute(text("select url from sources")).scalar()
            == "https://example.com/new-feed"
        )
