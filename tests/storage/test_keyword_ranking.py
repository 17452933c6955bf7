from datetime import UTC, datetime

import pytest

from storage.db import make_engine, prepare_for_writing
from storage.queries import (
    ArticleRecord,
    ItemFilter,
    MatchRecord,
    ensure_source,
    list_items,
    store_articles,
)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    prepare_for_writing(engine)
    yield engine
    engine.dispose()


def test_items_flagged_in_the_title_rank_first_then_newest_first(engine):
    source_id = ensure_source(engine, "mofa", "feed", "https://example.com/feed")

    def article(n: int, day: int, field: str) -> ArticleRecord:
        return ArticleRecord(
            url=f"https://example.com/{n}",
            url_key=f"example.com/{n}",
            text="body",
            content_hash=f"{n:064d}",
            title=f"Story {n}",
            published_at=datetime(2025, 7, day, tzinfo=UTC),
            matches=[MatchRecord("pak-us", field, 0, 4, "…")],
        )

    store_articles(
        engine,
        source_id,
        [
            article(1, 1, "title"),
            article(2, 9, "text"),
            article(3, 5, "title"),
            article(4, 7, "text"),
        ],
    )
    ranked = list_items(engine, ItemFilter(keyword="pak-us"))
    assert [item.title for item in ranked] == ["Story 3", "Story 1", "Story 2", "Story 4"]
    unfiltered = list_items(engine, ItemFilter())
    assert [item.title for item in unfiltered] == ["Story 2", "Story 4", "Story 3", "Story 1"]
