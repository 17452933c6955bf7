"""Source rows in Core, on SQLite and PostgreSQL."""

from sqlalchemy import text

from storage.crawlstate import ensure_source, ensure_sources


def test_ensure_source_is_stable(engine):
    first = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    assert ensure_source(engine, "tribune", "feed", "https://example.com/new-feed") == first
    with engine.connect() as connection:
        assert (
            connection.execute(text("select url from sources")).scalar()
            == "https://example.com/new-feed"
        )


def test_ensure_sources_creates_the_missing_and_updates_the_moved_in_one_go(engine):
    tribune = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    ids = ensure_sources(
        engine,
        [("tribune", "feed", "https://example.com/new-feed"), ("mofa", "listing", "https://x/")],
    )
    assert ids["tribune"] == tribune and ids["mofa"] != tribune
    assert ensure_source(engine, "mofa", "listing", "https://x/") == ids["mofa"]
    with engine.connect() as connection:
        urls = dict(connection.execute(text("select name, url from sources")).all())
    assert urls == {"tribune": "https://example.com/new-feed", "mofa": "https://x/"}
