"""Source rows: the one a crawl, a backfill or a test records its runs and items under.

Runs are storage/runs.py, HTTP validators storage/validators.py. Core only, no ORM: a crawl that
finds every source unchanged (crawler/probe.py) does nothing else, and should not pay the ORM's
start-up for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, insert, select, update

from storage.tables import sources
from storage.urlkeys import redact_url


def ensure_source(engine: Engine, name: str, mode: str, url: str) -> int:
    """The id of source `name`, creating or updating its row (its URL kept redacted)."""
    url = redact_url(url)
    with engine.begin() as connection:
        row = connection.execute(
            select(sources.c.id, sources.c.mode, sources.c.url).where(sources.c.name == name)
        ).first()
        if row is None:
            statement = insert(sources).values(name=name, mode=mode, url=url)
            return connection.execute(statement).inserted_primary_key[0]
        if (row.mode, row.url) != (mode, url):
            connection.execute(
                update(sources).where(sources.c.id == row.id).values(mode=mode, url=url)
            )
        return row.id


def ensure_sources(engine: Engine, entries: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """ensure_source for each (name, mode, url), in one transaction: the ids by name."""
    wanted = {name: (mode, redact_url(url)) for name, mode, url in entries}
    ids: dict[str, int] = {}
    with engine.begin() as connection:
        found = connection.execute(
            select(sources.c.id, sources.c.name, sources.c.mode, sources.c.url).where(
                sources.c.name.in_(list(wanted))
            )
        )
        for row in found.all():
            ids[row.name] = row.id
            if (row.mode, row.url) != wanted[row.name]:
                mode, url = wanted[row.name]
                connection.execute(
                    update(sources).where(sources.c.id == row.id).values(mode=mode, url=url)
                )
        for name, (mode, url) in wanted.items():
            if name not in ids:
                statement = insert(sources).values(name=name, mode=mode, url=url)
                ids[name] = connection.execute(statement.returning(sources.c.id)).scalar_one()
    return ids
