"""SQLAlchemy ORM classes over the Core tables of storage/tables.py (the one MetaData).

For writers and the crawl pipeline; the query path (storage/search.py) uses the tables directly
and never imports this module. Schema changes go in storage/tables.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

from storage import tables
from storage.tables import UTCDateTime as UTCDateTime  # noqa: F401 - public here too


class Base(DeclarativeBase):
    metadata = tables.metadata


class Source(Base):
    __table__ = tables.sources

    id: Mapped[int]
    name: Mapped[str]
    mode: Mapped[str]
    url: Mapped[str]
    created_at: Mapped[datetime]


class Item(Base):
    """One article, stored once: `url_key` (canonical URL without scheme and www.) is its identity."""

    __table__ = tables.items

    id: Mapped[int]
    source_id: Mapped[int]
    url: Mapped[str]
    url_key: Mapped[str]
    canonical_url: Mapped[str | None]
    title: Mapped[str | None]
    author: Mapped[str | None]
    published_at: Mapped[datetime | None]
    date_source: Mapped[str | None]
    fetched_at: Mapped[datetime]
    language: Mapped[str | None]
    language_source: Mapped[str | None]
    site_name: Mapped[str | None]
    text: Mapped[str]
    content_hash: Mapped[str]
    duplicate_of: Mapped[int | None]
    extracted_by: Mapped[str | None]
    accessible_for_free: Mapped[bool | None]

    source: Mapped[Source] = relationship(lazy="joined")
    matches: Mapped[list[KeywordMatch]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="KeywordMatch.id"
    )


class KeywordMatch(Base):
    """Where a keyword rule hit an item: field, offsets into that field, and a snippet."""

    __table__ = tables.keyword_matches

    id: Mapped[int]
    item_id: Mapped[int]
    keyword: Mapped[str]
    field: Mapped[str]
    start: Mapped[int]
    end: Mapped[int]
    snippet: Mapped[str]
    created_at: Mapped[datetime]

    item: Mapped[Item] = relationship(back_populates="matches")


class CrawlRun(Base):
    """One crawl of one source, written when it starts and finished when it ends."""

    __table__ = tables.crawl_runs

    id: Mapped[int]
    source_id: Mapped[int]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str]
    pages: Mapped[int]
    new_items: Mapped[int]
    flagged: Mapped[int]
    skipped: Mapped[int]
    errors: Mapped[int]
    error_kinds: Mapped[dict[str, int]]
    skip_kinds: Mapped[dict[str, int] | None]
    discovered: Mapped[int | None]
    matched: Mapped[int | None]
    error_text: Mapped[str | None]
    pid: Mapped[int | None]

    source: Mapped[Source] = relationship(lazy="joined")


class AlertDelivery(Base):
    """One alert owed for one (alert, item, rule); see storage/tables.py."""

    __table__ = tables.alert_deliveries

    id: Mapped[int]
    alert: Mapped[str]
    item_id: Mapped[int]
    keyword: Mapped[str]
    story_key: Mapped[str | None]
    message_id: Mapped[str | None]
    status: Mapped[str]
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    item: Mapped[Item] = relationship()


class HttpValidator(Base):
    """What a URL's last successfully processed response said: for conditional GETs."""

    __table__ = tables.http_validators

    url_digest: Mapped[str]  # storage/urlkeys.py
    url: Mapped[str]  # redacted
    etag: Mapped[str | None]
    last_modified: Mapped[str | None]
    body_hash: Mapped[str | None]
    status: Mapped[int | None]
    checked_at: Mapped[datetime]


class ItemVersion(Base):
    """One text of an item as fetched; version 1 is the original, later ones are corrections."""

    __table__ = tables.item_versions

    id: Mapped[int]
    item_id: Mapped[int]
    version: Mapped[int]
    title: Mapped[str | None]
    text: Mapped[str]
    content_hash: Mapped[str]
    fetched_at: Mapped[datetime]


class Signature(Base):
    """An item's MinHash over word shingles (hash values as little-endian uint64 bytes)."""

    __table__ = tables.signatures

    item_id: Mapped[int]
    minhash: Mapped[bytes]


class SignatureBand(Base):
    """One LSH band hash of a signature: items sharing a (band, hash) are near-copy candidates."""

    __table__ = tables.signature_bands

    band: Mapped[int]
    hash: Mapped[int]
    item_id: Mapped[int]
