"""Stories: an item and its near-copies. One row per story (copies collapsed onto the earliest
item that matches), and the members of a story."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, exists, func, or_, select

from storage.clock import to_utc
from storage.filters import ItemQuery, filter_conditions, item_date
from storage.fulltext import search_condition
from storage.tables import items, sources


def first_of_story(dialect: str, query: ItemQuery) -> Any:
    """WHERE condition: no earlier item of the same story also matches `query`'s filters.

    A story is an item and its copies (`duplicate_of` points at the earliest one). Filters
    apply first, so a keyword found only in a copy still shows that copy. Every lookup uses
    the primary key or the `duplicate_of` index.
    """
    plain = replace(query, collapse_duplicates=False, cursor=None)
    conditions = filter_conditions(plain)
    if plain.search:
        conditions.append(search_condition(dialect, plain.search))
    # correlate_except: this inner SELECT ranges over items itself, not over the outer row.
    matching = select(items.c.id).where(*conditions).correlate_except(items)
    member = items.alias("member")
    earlier_member = (
        exists()
        .where(
            member.c.id < items.c.id,
            or_(
                member.c.id == items.c.duplicate_of,
                member.c.duplicate_of == items.c.duplicate_of,
            ),
            member.c.id.in_(matching),
        )
        .correlate(items)
    )
    return or_(items.c.duplicate_of.is_(None), ~earlier_member)


@dataclass(frozen=True)
class StoryMember:
    """One item of a story, as a story page or a folded row lists it."""

    id: int
    source: str
    title: str | None
    date: datetime


def story_members(engine: Engine, item_ids: Sequence[int]) -> dict[int, list[StoryMember]]:
    """For each item, the other items of its story (its near-copies and its original),
    earliest first."""
    if not item_ids:
        return {}
    with engine.connect() as connection:
        roots = {
            item_id: duplicate_of or item_id
            for item_id, duplicate_of in connection.execute(
                select(items.c.id, items.c.duplicate_of).where(items.c.id.in_(list(item_ids)))
            )
        }
        root_ids = list(set(roots.values()))
        rows = connection.execute(
            select(
                items.c.id,
                func.coalesce(items.c.duplicate_of, items.c.id).label("root"),
                sources.c.name,
                items.c.title,
                item_date().label("date"),
            )
            .join(sources, sources.c.id == items.c.source_id)
            .where(or_(items.c.id.in_(root_ids), items.c.duplicate_of.in_(root_ids)))
            .order_by(item_date(), items.c.id)
        ).all()
    by_root: dict[int, list[StoryMember]] = {}
    for row in rows:
        member = StoryMember(row.id, row.name, row.title, to_utc(row.date))
        by_root.setdefault(row.root, []).append(member)
    return {
        item_id: [member for member in by_root.get(root, []) if member.id != item_id]
        for item_id, root in roots.items()
    }
