"""What the crawl hands the store: plain records, importable without SQLAlchemy, so extraction
workers build them (crawler/worker.py) and storage/queries.py stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from storage.clock import utcnow

if TYPE_CHECKING:
    from storage.archive import ArchivedPage


@dataclass(frozen=True)
class MatchRecord:
    keyword: str
    field: str
    start: int
    end: int
    snippet: str


@dataclass
class ArticleRecord:
    """An extracted, flagged article ready to store."""

    url: str
    url_key: str
    text: str
    content_hash: str
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    date_source: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    language_source: str | None = None  # "page" (declared) or "text" (detected)
    site_name: str | None = None
    extracted_by: str | None = None  # "rules", "trafilatura" or "trafilatura+fallback"
    accessible_for_free: bool | None = None  # the page's ld+json isAccessibleForFree
    fetched_at: datetime = field(default_factory=utcnow)
    matches: list[MatchRecord] = field(default_factory=list)
    signature: bytes | None = None  # MinHash values, for near-duplicate linking
    page: ArchivedPage | None = None  # the fetched page, when its source archives
