"""What spiders hand to the item pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Hints:
    """Metadata discovery gave for an article (feed entry, sitemap entry) before it was fetched."""

    title: str | None = None
    author: str | None = None
    published: datetime | None = None


@dataclass(frozen=True)
class RawResponse:
    """The response an article page came in, as fetched: kept when its source archives."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes = field(repr=False)
    fetched_at: datetime


@dataclass
class FetchedPage:
    """An article page as fetched: decoded HTML (never raw bytes) and the hints from discovery."""

    source: str
    url: str
    html: str = field(repr=False)
    hints: Hints = field(default_factory=Hints)
    walk: Any = field(default=None, repr=False)  # the crawler.walks.Walk that listed it
    raw: RawResponse | None = field(default=None, repr=False)  # when the source archives
