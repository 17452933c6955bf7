"""HTTP validators: what a crawl sends for a conditional GET (ETag, Last-Modified) and the body
hash it compares when a server sends neither, read and written here only.

Rows are keyed by the digest of the URL as requested (storage/urlkeys.py); the URL itself is
kept redacted. Core only: crawler/probe.py reads these before deciding to crawl at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from storage.clock import utcnow
from storage.db import dialect_insert
from storage.tables import http_validators
from storage.urlkeys import redact_url, url_digest


@dataclass(frozen=True)
class Validators:
    """What to send for a conditional GET, and the body hash to compare when there is none."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


def body_hash(body: bytes) -> str:
    """What a body is compared by when its server sends no validators (its decoded bytes)."""
    return hashlib.sha256(body).hexdigest()


def validators_for(engine: Engine, urls: Iterable[str]) -> dict[str, Validators]:
    """The stored validators of those of `urls` that have any, in one query, by URL."""
    wanted = {url_digest(url): url for url in urls}
    columns = (
        http_validators.c.url_digest,
        http_validators.c.etag,
        http_validators.c.last_modified,
        http_validators.c.body_hash,
    )
    statement = select(*columns).where(http_validators.c.url_digest.in_(list(wanted)))
    with engine.connect() as connection:
        rows = connection.execute(statement)
        return {wanted[digest]: Validators(*validators) for digest, *validators in rows}


def save_validators(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert rows of {url, etag, last_modified, body_hash, status}, stamped now, in one go;
    each kept under the digest of its URL, the URL itself only redacted."""
    if not rows:
        return
    now = utcnow()
    # One row per URL: PostgreSQL refuses an upsert that touches a row twice.
    by_digest = {url_digest(row["url"]): row for row in rows}
    values = [
        {**row, "url_digest": digest, "url": redact_url(row["url"]), "checked_at": now}
        for digest, row in by_digest.items()
    ]
    statement = dialect_insert(engine)(http_validators)
    statement = statement.on_conflict_do_update(
        index_elements=["url_digest"],
        set_={
            column: statement.excluded[column]
            for column in ("etag", "last_modified", "body_hash", "status", "checked_at")
        },
    )
    with engine.begin() as connection:
        connection.execute(statement, values)
