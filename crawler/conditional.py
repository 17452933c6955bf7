"""Conditional GET for discovery pages and re-checked articles, with a body-hash fallback.

Discovery requests (feeds, sitemaps, listing pages: `first_discovery` in their meta) and
re-check requests (`recheck` in their meta) go out with If-None-Match / If-Modified-Since
from the last run. A 304, or a 200 whose body hashes the same as last time, marks the
response `unchanged` and the spider discovers nothing from it (and parses nothing).

Conditional headers go only to a discovery URL whose last walk caught up (crawler/walks.py),
and its validators are saved only when a walk of it caught up: so neither a crash nor a walk
cut short makes the next run skip what was never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request
from scrapy.http import Response
from sqlalchemy import Engine

from crawler.urls import url_key
from storage import queries
from storage.validators import Validators, body_hash, validators_for

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

UNCHANGED_STAT = "newsmon/skipped/unchanged"
CONDITIONAL_HEADERS = (b"If-None-Match", b"If-Modified-Since")


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


class ConditionalGetMiddleware:
    """Downloader middleware: conditional headers out, `unchanged` responses in."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def book(self) -> ValidatorBook | None:
        return getattr(self.crawler.spider, "validator_book", None)

    def process_request(self, request: Request) -> None:
        # A redirect copies the headers of the request it replaces: start clean for this URL.
        for name in CONDITIONAL_HEADERS:
            request.headers.pop(name, None)
        book = self.book()
        if book is None:
            return
        if "first_discovery" in request.meta:
            if not self.crawler.spider.may_shortcut(request.url):  # type: ignore[union-attr]
                return  # its last walk did not catch up: fetch and parse it in full
            validators = book.lookup(request.url)
        elif "recheck" in request.meta:
            validators = request.meta["recheck"].validators
        else:
            return
        if validators is None:
            return
        request.meta["known_body_hash"] = validators.body_hash
        if validators.etag:
            request.headers[b"If-None-Match"] = validators.etag
        if validators.last_modified:
            request.headers[b"If-Modified-Since"] = validators.last_modified
        # HttpErrorMiddleware drops non-2xx responses unless told otherwise.
        allowed = request.meta.get("handle_httpstatus_list", [])
        request.meta["handle_httpstatus_list"] = [*allowed, 304]

    def process_response(self, request: Request, response: Response) -> Response:
        book = self.book()
        conditional = "first_discovery" in request.meta or "recheck" in request.meta
        if book is None or not (conditional or request.meta.get("article")):
            return response
        if response.status == 304 and conditional:
            return self._unchanged(request, response, "304")
        if response.status != 200:
            return response
        digest = body_hash(response.body)
        if conditional and digest == request.meta.get("known_body_hash"):
            return self._unchanged(request, response, "same body")
        if "recheck" in request.meta:
            kind = "recheck"
        elif "first_discovery" in request.meta:
            kind = "discovery"
        else:
            kind = "article"
        book.record(request.url, response, digest, kind=kind)
        return response

    def _unchanged(self, request: Request, response: Response, why: str) -> Response:
        request.meta["unchanged"] = True
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(UNCHANGED_STAT)
        log.debug("%s unchanged (%s)", request.url, why)
        return response
