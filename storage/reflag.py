"""Queries behind `newsmon reflag`: stored items in keyset-paginated batches, and the match diff
applied one transaction per batch (with the alert deliveries it owes, when asked)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from storage.db import dialect_insert
from storage.deliveries import AlertRoute, bundle_stories, insert_owed, owed_rows
from storage.models import Item, KeywordMatch, Source
from storage.queries import MatchRecord

MatchKey = tuple[str, str, int, int]  # keyword, field, start, end


@dataclass(frozen=True)
class StoredText:
    id: int
    title: str
    text: str
    source: str


def iter_item_batches(
    engine: Engine, since: datetime | None = None, batch_size: int = 500
) -> Iterator[list[StoredText]]:
    """Every stored item (published, else fetched, at or after `since`) in id order.

    Keyset pagination (id > last seen), one short query per batch: memory stays bounded by the
    batch however many items there are, and no transaction stays open between batches.
    """
    last = 0
    while True:
        statement = (
            select(Item.id, Item.title, Item.text, Source.name)
            .join(Source, Item.source_id == Source.id)
            .where(Item.id > last)
            .order_by(Item.id)
            .limit(batch_size)
        )
        if since is not None:
            statement = statement.where(func.coalesce(Item.published_at, Item.fetched_at) >= since)
        with engine.connect() as connection:
            batch = [
                StoredText(item_id, title or "", text, source)
                for item_id, title, text, source in connection.execute(statement)
            ]
        if not batch:
            return
        yield batch
        last = batch[-1].id


def stored_matches(
    engine: Engine, item_ids: Sequence[int], keywords: Collection[str] | None = None
) -> dict[int, dict[MatchKey, int]]:
    """Per item, its stored matches (only these keywords, if given): key -> match row id."""
    statement = select(
        KeywordMatch.id,
        KeywordMatch.item_id,
        KeywordMatch.keyword,
        KeywordMatch.field,
        KeywordMatch.start,
        KeywordMatch.end,
    ).where(KeywordMatch.item_id.in_(list(item_ids)))
    if keywords is not None:
        statement = statement.where(KeywordMatch.keyword.in_(list(keywords)))
    found: dict[int, dict[MatchKey, int]] = {}
    with engine.connect() as connection:
        for match_id, item_id, keyword, field, start, end in connection.execute(statement):
            found.setdefault(item_id, {})[keyword, field, start, end] = match_id
    return found


def apply_match_changes(
    engine: Engine,
    removed: Sequence[int],
    added: Sequence[tuple[int, MatchRecord]],
    alerts: Sequence[AlertRoute] = (),
    newly_flagged: Sequence[tuple[int, str]] = (),
) -> None:
    """Delete and insert matches in one transaction, and owe alerts for newly flagged pairs."""
    if not (removed or added):
        return
    insert = dialect_insert(engine)
    with Session(engine) as session, session.begin():
        for start in range(0, len(removed), 500):
            chunk = list(removed[start : start + 500])
            session.execute(delete(KeywordMatch).where(KeywordMatch.id.in_(chunk)))
        if added:
            session.execute(
                insert(KeywordMatch).on_conflict_do_nothing(
                    index_elements=["item_id", "keyword", "field", "start"]
                ),
                [{"item_id": item_id, **match.__dict__} for item_id, match in added],
            )
        insert_owed(session, insert, bundle_stories(session, owed_rows(alerts, newly_flagged)))
