"""The query API: every front end (CLI, crawl pipeline) reads and writes through here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from storage.archive import add_pages
from storage.clock import to_utc
from storage.db import dialect_insert
from storage.deliveries import AlertRoute, bundle_stories, insert_owed, owed_rows
from storage.models import Item, KeywordMatch

# Re-exported: the records were defined here, and callers still import them from here.
from storage.records import ArticleRecord as ArticleRecord
from storage.records import MatchRecord as MatchRecord


@dataclass(frozen=True)
class StoredBatch:
    new_item_ids: list[int]
    flagged_item_ids: list[int]


def store_articles(
    engine: Engine,
    source_id: int,
    articles: Sequence[ArticleRecord],
    alerts: Sequence[AlertRoute] = (),
    after_insert: Callable[[Session, list[tuple[int, ArticleRecord]]], None] | None = None,
) -> StoredBatch:
    """Insert a batch in one transaction; an article whose url_key is already stored is skipped.

    Items, their matches, archived pages and the alert deliveries they owe commit together, so a
    killed process never leaves half an item, nor a flagged item whose alert was forgotten.
    """
    if not articles:
        return StoredBatch([], [])
    insert = dialect_insert(engine)
    by_key = {article.url_key: article for article in articles}
    rows = [
        {
            "source_id": source_id,
            "url": a.url,
            "url_key": a.url_key,
            "canonical_url": a.canonical_url,
            "title": a.title,
            "author": a.author,
            "published_at": a.published_at,
            "date_source": a.date_source,
            "fetched_at": a.fetched_at,
            "language": a.language,
            "language_source": a.language_source,
            "site_name": a.site_name,
            "extracted_by": a.extracted_by,
            "accessible_for_free": a.accessible_for_free,
            "text": a.text,
            "content_hash": a.content_hash,
        }
        for a in by_key.values()
    ]
    statement = (
        insert(Item)
        .on_conflict_do_nothing(index_elements=["url_key"])
        .returning(Item.id, Item.url_key)
    )
    with Session(engine) as session, session.begin():
        inserted = session.execute(statement, rows).all()
        match_rows = [
            {"item_id": item_id, **match.__dict__}
            for item_id, url_key in inserted
            for match in by_key[url_key].matches
        ]
        if match_rows:
            session.execute(
                insert(KeywordMatch).on_conflict_do_nothing(
                    index_elements=["item_id", "keyword", "field", "start"]
                ),
                match_rows,
            )
        if after_insert is not None and inserted:
            # Same transaction: e.g. near-duplicate links and signatures (storage/neardup.py).
            after_insert(session, [(item_id, by_key[key]) for item_id, key in inserted])
        pages = [(item_id, by_key[key].page) for item_id, key in inserted]
        add_pages(session, [(item_id, page) for item_id, page in pages if page is not None])
        # After linking: a near-copy of an already alerted story is bundled, not alerted again.
        flagged_pairs = [(row["item_id"], row["keyword"]) for row in match_rows]
        insert_owed(session, insert, bundle_stories(session, owed_rows(alerts, flagged_pairs)))
    new_ids = [item_id for item_id, _ in inserted]
    flagged = [item_id for item_id, url_key in inserted if by_key[url_key].matches]
    return StoredBatch(new_ids, flagged)


def known_url_keys(engine: Engine, url_keys: Iterable[str]) -> set[str]:
    """Which of these url_keys are stored already: one indexed query per batch."""
    keys = list(set(url_keys))
    found: set[str] = set()
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found.update(connection.scalars(select(Item.url_key).where(Item.url_key.in_(chunk))))
    return found


def newest_published(engine: Engine, url_keys: Iterable[str]) -> datetime | None:
    """The latest publication date among these stored url_keys, if any has one."""
    keys = list(set(url_keys))
    newest: datetime | None = None
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found = connection.scalar(
                select(func.max(Item.published_at)).where(Item.url_key.in_(chunk))
            )
            if isinstance(found, str):  # func.max bypasses the UTC type on SQLite
                found = to_utc(found)
            if found is not None and (newest is None or found > newest):
                newest = found
    return newest
