from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.crawlstate import ensure_source
from storage.models import Item, KeywordMatch
from storage.queries import (
    ArticleRecord,
    MatchRecord,
    known_url_keys,
    store_articles,
)
from storage.search import ItemQuery, get_item, search_items


def article(n: int, *, matches=(), published=None, title=None) -> ArticleRecord:
    return ArticleRecord(
        url=f"https://example.com/news/{n}",
        url_key=f"example.com/news/{n}",
        text=f"Article {n} body text.",
        content_hash=f"{n:064d}",
        title=title or f"Article {n}",
        published_at=published,
        matches=list(matches),
    )


PAK_US = MatchRecord("Pakistan-US", "text", 10, 21, "…the Pakistan-US partnership…")


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_store_inserts_new_items_and_their_matches(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    stored = store_articles(engine, source_id, [article(1, matches=[PAK_US]), article(2)])
    assert len(stored.new_item_ids) == 2
    assert len(stored.flagged_item_ids) == 1
    assert count(engine, Item) == 2
    assert count(engine, KeywordMatch) == 1


def test_storing_the_same_urls_again_stores_nothing(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    store_articles(engine, source_id, [article(1, matches=[PAK_US]), article(2)])
    again = store_articles(
        engine, source_id, [article(1, matches=[PAK_US]), article(2), article(3)]
    )
    assert len(again.new_item_ids) == 1
    assert again.flagged_item_ids == []
    assert count(engine, Item) == 3
    assert count(engine, KeywordMatch) == 1


def test_a_failing_batch_leaves_no_half_written_item(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    broken = MatchRecord("Pakistan-US", "text", 0, 5, None)  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(IntegrityError):
        store_articles(engine, source_id, [article(1), article(2, matches=[broken])])
    assert count(engine, Item) == 0
    assert count(engine, KeywordMatch) == 0


def test_known_url_keys_answers_for_a_large_batch(engine):
    source_id = ensure_source(engine, "s", "feed", "https://example.com/feed")
    store_articles(engine, source_id, [article(n) for n in range(0, 1200, 2)])
    asked = [f"example.com/news/{n}" for n in range(1200)]
    assert known_url_keys(engine, asked) == {f"example.com/news/{n}" for n in range(0, 1200, 2)}


def test_stored_items_read_back_filtered_and_newest_first(engine):
    tribune = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    mofa = ensure_source(engine, "mofa", "listing", "https://example.org/press/")
    day = datetime(2025, 7, 20, tzinfo=UTC)
    store_articles(
        engine,
        tribune,
        [
            article(1, published=day, matches=[PAK_US]),
            article(2, published=day + timedelta(days=2)),
        ],
    )
    store_articles(engine, mofa, [article(3, published=day + timedelta(days=5), matches=[PAK_US])])

    def ids(**filters):
        return [item.title for item in search_items(engine, ItemQuery(**filters)).items]

    assert ids() == ["Article 3", "Article 2", "Article 1"]
    assert ids(keyword="Pakistan-US") == ["Article 3", "Article 1"]
    assert ids(source="tribune") == ["Article 2", "Article 1"]
    assert ids(since=day + timedelta(days=1)) == ["Article 3", "Article 2"]
    assert ids(until=day + timedelta(days=1)) == ["Article 1"]
    assert ids(limit=1) == ["Article 3"]
    assert ids(keyword="no-such-rule") == []


def test_a_stored_item_reads_back_with_source_and_matches(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    [item_id] = store_articles(engine, source_id, [article(1, matches=[PAK_US])]).new_item_ids
    item = get_item(engine, item_id)
    assert item is not None and item.source_name == "tribune"
    assert [(m.keyword, m.snippet) for m in item.matches] == [("Pakistan-US", PAK_US.snippet)]
    assert item.fetched_at.tzinfo is UTC
    assert get_item(engine, item_id + 1000) is None
