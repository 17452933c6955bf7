"""One row per story: near-duplicate copies collapsed onto the earliest item that matches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import exists, or_, select

from storage.filters import ItemQuery, filter_conditions
from storage.fulltext import search_condition
from storage.tables import items


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
