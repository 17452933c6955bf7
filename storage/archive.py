"""The page archive: the fetched page of each item of an archiving source, kept compressed, so
that `newsmon reextract` can extract it again and `newsmon export --format warc` can hand it on.

Core only (no ORM): the export and `stats` read it on the fast path. Rows are written in the
transaction that stores their item (storage/queries.py) or its new version (re-checks), so a
killed crawl leaves no archive row without its item, nor an item of an archiving source that
lost its page.
"""

from __future__ import annotations

import gzip
import importlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, func, select

from storage.filters import ItemQuery, filter_conditions
from storage.tables import items, page_archive, sources

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Not worth keeping, or not safe to: cookies, hop-by-hop headers (RFC 9110 7.6.1) and the
# framing of a body that is stored decoded (its content coding undone, its length our own).
DROPPED_HEADERS = frozenset(
    {
        "set-cookie",
        "set-cookie2",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-encoding",
        "content-length",
    }
)
# The body is bounded by the crawl's page size limit (max_page_bytes); headers by this.
MAX_HEADER_BYTES = 32 * 1024
GZIP_LEVEL = 6
ZSTD_MODULES = ("compression.zstd", "backports.zstd")  # Python 3.14, then its backport


class ArchiveError(RuntimeError):
    """An archived page cannot be read here (its codec is not installed)."""


def _zstd() -> ModuleType | None:
    for name in ZSTD_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def codec() -> str:
    """The codec new pages are stored with: zstd where it is installed, else gzip (stdlib)."""
    return "zstd" if _zstd() is not None else "gzip"


def compress(body: bytes, name: str) -> bytes:
    if name == "gzip":
        return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    module = _zstd()
    if module is None:
        raise ArchiveError("zstd is not installed")
    data: bytes = module.compress(body)
    return data


def decompress(data: bytes, name: str) -> bytes:
    if name == "gzip":
        return gzip.decompress(data)
    module = _zstd()
    if module is None:
        raise ArchiveError(
            f"this archive holds {name} pages and {name} is not installed"
            " (pip install backports.zstd)"
        )
    body: bytes = module.decompress(data)
    return body


def kept_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The response headers worth archiving, in order: see DROPPED_HEADERS; so are the names a
    Connection header lists, and whatever would take the headers past MAX_HEADER_BYTES."""
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    kept, size = [], 0
    for name, value in pairs:
        if name.lower() in DROPPED_HEADERS or name.lower() in named:
            continue
        size += len(name) + len(value) + 4
        if size > MAX_HEADER_BYTES:
            break
        kept.append((name, value))
    return kept


@dataclass(frozen=True)
class ArchivedPage:
    """One page as archived: `body` compressed with `codec`; `unpacked()` gives it back."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    codec: str
    body: bytes
    body_bytes: int
    fetched_at: datetime

    @classmethod
    def pack(
        cls,
        url: str,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        fetched_at: datetime,
    ) -> ArchivedPage:
        """Compress `body` (CPU-bound: call it off the reactor) and keep the safe headers."""
        name = codec()
        return cls(
            url, status, kept_headers(headers), name, compress(body, name), len(body), fetched_at
        )

    def unpacked(self) -> bytes:
        return decompress(self.body, self.codec)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _row(item_id: int, page: ArchivedPage) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "url": page.url,
        "status": page.status,
        "headers": [list(pair) for pair in page.headers],
        "codec": page.codec,
        "body": page.body,
        "body_bytes": page.body_bytes,
        "stored_bytes": len(page.body),
        "fetched_at": page.fetched_at,
    }


def add_pages(session: Session, pages: Sequence[tuple[int, ArchivedPage]]) -> None:
    """Archive these items' pages, in the caller's transaction; one already kept is replaced
    (a re-checked item keeps the page its current text came from)."""
    if not pages:
        return
    ids = [item_id for item_id, _ in pages]
    session.execute(delete(page_archive).where(page_archive.c.item_id.in_(ids)))
    session.execute(page_archive.insert(), [_row(item_id, page) for item_id, page in pages])


@dataclass(frozen=True)
class StoredPage:
    item_id: int
    source: str
    page: ArchivedPage


def iter_pages(
    engine: Engine,
    query: ItemQuery | None = None,
    batch_size: int = 200,
    after: int = 0,
    conditions: Sequence[Any] = (),
) -> Iterator[list[StoredPage]]:
    """Archived pages of the items `query` selects (plus `conditions`), in item id order past
    `after`: keyset-paginated, one short query per batch, so memory stays bounded by the batch
    and no transaction stays open between batches."""
    where = [*filter_conditions(query or ItemQuery()), *conditions]
    last = after
    while True:
        statement = (
            select(page_archive, sources.c.name)
            .join(items, items.c.id == page_archive.c.item_id)
            .join(sources, sources.c.id == items.c.source_id)
            .where(page_archive.c.item_id > last, *where)
            .order_by(page_archive.c.item_id)
            .limit(batch_size)
        )
        with engine.connect() as connection:
            batch = [_stored(row._mapping) for row in connection.execute(statement)]
        if not batch:
            return
        yield batch
        last = batch[-1].item_id


def _stored(row: Any) -> StoredPage:
    page = ArchivedPage(
        url=row["url"],
        status=row["status"],
        headers=[(name, value) for name, value in row["headers"]],
        codec=row["codec"],
        body=row["body"],
        body_bytes=row["body_bytes"],
        fetched_at=row["fetched_at"],
    )
    return StoredPage(row["item_id"], row["name"], page)


@dataclass(frozen=True)
class ArchiveSize:
    pages: int = 0
    stored_bytes: int = 0  # compressed, as kept
    body_bytes: int = 0  # as fetched

    def as_dict(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "stored_bytes": self.stored_bytes,
            "body_bytes": self.body_bytes,
        }


def archive_size(engine: Engine, conditions: Sequence[Any] = ()) -> ArchiveSize:
    """How many pages the archive holds for the items `conditions` select, and their bytes."""
    statement = (
        select(
            func.count(page_archive.c.item_id),
            func.coalesce(func.sum(page_archive.c.stored_bytes), 0),
            func.coalesce(func.sum(page_archive.c.body_bytes), 0),
        )
        .select_from(page_archive)
        .join(items, items.c.id == page_archive.c.item_id)
        .where(*conditions)
    )
    with engine.connect() as connection:
        pages, stored, body = connection.execute(statement).one()
    return ArchiveSize(int(pages), int(stored), int(body))
