"""Queries for incremental crawling: HTTP validators, re-check candidates and item versions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.db import dialect_insert
from storage.deliveries import AlertRoute, bundle_stories, insert_owed, owed_rows
from storage.models import Item, ItemVersion, KeywordMatch
from storage.text import normalise
from storage.validators import Validators, validators_for


@dataclass(frozen=True)
class RecheckTarget:
    """A stored article due for a conditional re-fetch."""

    item_id: int
    url: str
    validators: Validators


def recheck_targets(
    engine: Engine, url_keys: Iterable[str], fetched_since: datetime
) -> dict[str, RecheckTarget]:
    """Of these stored url_keys, those first fetched since `fetched_since`: one query per 500."""
    keys = list(set(url_keys))
    due: list[tuple[str, int, str]] = []
    statement = select(Item.url_key, Item.id, Item.url).where(Item.fetched_at >= fetched_since)
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            due.extend(connection.execute(statement.where(Item.url_key.in_(chunk))).tuples())
    validators: dict[str, Validators] = {}
    for start in range(0, len(due), 500):  # keyed by digest: looked up by URL, not joined
        validators.update(validators_for(engine, [url for _, _, url in due[start : start + 500]]))
    return {
        key: RecheckTarget(item_id, url, validators.get(url, Validators()))
        for key, item_id, url in due
    }


@dataclass(frozen=True)
class NewVersion:
    version: int
    new_keywords: list[str]


def store_version(
    engine: Engine,
    item_id: int,
    *,
    text: str,
    title: str | None,
    content_hash: str,
    matches: Sequence[Any],
    fetched_at: datetime | None = None,
    reindex: Any = None,
    alerts: Sequence[AlertRoute] = (),
) -> NewVersion | None:
    """Keep a re-fetched text as a new version when it really changed; None when it did not.

    In one transaction: the original becomes version 1 (on the first change), the new text the
    next version and the item's current text; the item's matches are replaced by the new text's,
    keeping the first-flagged time of keywords it had before, so keywords new in this version
    are the ones flagged now. `reindex(session, item_id, text)` refreshes derived data.
    Alerts are owed, in the same transaction, for the keywords new in this version.
    """
    fetched_at = fetched_at or utcnow()
    with Session(engine) as session, session.begin():
        item = session.get(Item, item_id)
        if item is None or normalise(item.text) == normalise(text):
            return None
        latest = session.scalar(
            select(func.max(ItemVersion.version)).where(ItemVersion.item_id == item_id)
        )
        if latest is None:
            session.add(
                ItemVersion(
                    item_id=item_id,
                    version=1,
                    title=item.title,
                    text=item.text,
                    content_hash=item.content_hash,
                    fetched_at=item.fetched_at,
                )
            )
            latest = 1
        version = latest + 1
        session.add(
            ItemVersion(
                item_id=item_id,
                version=version,
                title=title,
                text=text,
                content_hash=content_hash,
                fetched_at=fetched_at,
            )
        )
        first_flagged = dict(
            session.execute(
                select(KeywordMatch.keyword, func.min(KeywordMatch.created_at))
                .where(KeywordMatch.item_id == item_id)
                .group_by(KeywordMatch.keyword)
            ).all()
        )
        session.execute(delete(KeywordMatch).where(KeywordMatch.item_id == item_id))
        item.text, item.title, item.content_hash = text, title or item.title, content_hash
        seen: set[tuple[str, str, int]] = set()
        for match in matches:
            position = (match.keyword, match.field, match.start)
            if position in seen:
                continue
            seen.add(position)
            session.add(
                KeywordMatch(
                    item_id=item_id,
                    keyword=match.keyword,
                    field=match.field,
                    start=match.start,
                    end=match.end,
                    snippet=match.snippet,
                    created_at=first_flagged.get(match.keyword, fetched_at),
                )
            )
        if reindex is not None:
            reindex(session, item_id, text)
        new_keywords = sorted({match.keyword for match in matches} - set(first_flagged))
        if alerts and new_keywords:
            owed = owed_rows(alerts, [(item_id, keyword) for keyword in new_keywords])
            insert_owed(session, dialect_insert(engine), bundle_stories(session, owed))
    return NewVersion(version, new_keywords)


def list_versions(engine: Engine, item_id: int) -> list[ItemVersion]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(ItemVersion)
                .where(ItemVersion.item_id == item_id)
                .order_by(ItemVersion.version)
            )
        )
