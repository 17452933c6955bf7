"""Source rows: the one a crawl, a backfill or a test records its runs and items under.

Runs are storage/runs.py, HTTP validators storage/validators.py. Core only, no ORM: a crawl that
finds every source unchanged (crawler/probe.py) does nothing else, and should not pay the ORM's
start-up for it.
"""

from __future__ import annotations

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
