"""The HTTP validators one source's crawl has seen, kept until what they describe is stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scrapy.http import Response
from sqlalchemy import Engine

from crawler.urls import url_key
from storage import queries
from storage.validators import Validators, validators_for


@dataclass
class ValidatorBook:
    """Validators seen during one source's crawl, to save once what they describe is stored.

    A discovery URL's are saved when its walk caught up (crawler/walks.py), an article's when
    its item is stored (or its re-check completed).
    """

    engine: Engine
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    articles: set[str] = field(default_factory=set)
    rechecks: set[str] = field(default_factory=set)
    rechecked: set[str] = field(default_factory=set)

    def lookup(self, url: str) -> Validators | None:
        return validators_for(self.engine, [url]).get(url)

    def record(self, url: str, response: Response, digest: str, *, kind: str) -> None:
        """Note a 200 response; `kind` is discovery, article or recheck."""
        self.seen[url] = {
            "url": url,
            "etag": _header(response, b"ETag"),
            "last_modified": _header(response, b"Last-Modified"),
            "body_hash": digest,
            "status": response.status,
        }
        if kind == "article":
            self.articles.add(url)
        elif kind == "recheck":
            self.rechecks.add(url)

    def discovery_rows(self, urls: Iterable[str]) -> list[dict[str, Any]]:
        return [self.seen[url] for url in urls if url in self.seen]

    def item_rows(self) -> list[dict[str, Any]]:
        """Those of stored articles and completed re-checks."""
        stored = queries.known_url_keys(self.engine, (url_key(url) for url in self.articles))
        articles = [self.seen[url] for url in self.articles if url_key(url) in stored]
        rechecks = [self.seen[url] for url in self.rechecks if url in self.rechecked]
        return articles + rechecks


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
