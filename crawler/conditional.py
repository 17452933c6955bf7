"""Conditional GET for discovery pages and re-checked articles, with a body-hash fallback.

Discovery requests (feeds, sitemaps, listing pages: `first_discovery` in their meta) and
re-check requests (`recheck` in their meta) go out with If-None-Match / If-Modified-Since
from the last run. A 304, or a 200 whose body hashes the same as last time, marks the
response `unchanged` and the spider discovers nothing from it (and parses nothing).

Validators are saved only at the end of a crawl that finished, and only for URLs processed
in full (see ValidatorBook), so a crash never makes the next run skip what it never parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, signals
from scrapy.http import Response
from sqlalchemy import Engine

from crawler.urls import url_key
from storage import crawlstate, incremental, queries
from storage.crawlstate import Validators, body_hash

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

UNCHANGED_STAT = "newsmon/skipped/unchanged"
CONDITIONAL_HEADERS = (b"If-None-Match", b"If-Modified-Since")


@dataclass
class ValidatorBook:
    """Validators seen during one source's crawl, and which URLs were processed in full.

    A discovery URL counts as processed when its response was parsed and nothing it led to
    (child sitemaps, next listing pages, articles) failed or was left out by max_articles; a
    failure anywhere below taints every discovery URL above it (`via` in the request meta).
    An article's validators are kept when its item is stored (or its re-check completed).
    """

    engine: Engine
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    processed: set[str] = field(default_factory=set)
    tainted: set[str] = field(default_factory=set)
    articles: set[str] = field(default_factory=set)
    rechecks: set[str] = field(default_factory=set)
    rechecked: set[str] = field(default_factory=set)

    def lookup(self, url: str) -> Validators | None:
        return crawlstate.validators_for(self.engine, [url]).get(url)

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

    def taint(self, urls: Iterable[str]) -> None:
        self.tainted.update(urls)

    def rows_to_save(self) -> list[dict[str, Any]]:
        discovery = [
            row
            for url, row in self.seen.items()
            if url in self.processed and url not in self.tainted
        ]
        stored = queries.known_url_keys(self.engine, (url_key(url) for url in self.articles))
        articles = [self.seen[url] for url in self.articles if url_key(url) in stored]
        rechecks = [self.seen[url] for url in self.rechecks if url in self.rechecked]
        return discovery + articles + rechecks


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class ConditionalGetMiddleware:
    """Downloader middleware: conditional headers out, `unchanged` responses in."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

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

    def spider_closed(self, spider: Spider, reason: str) -> None:
        book = getattr(spider, "validator_book", None)
        if book is None:
            return
        errors_logged = (
            self.crawler.stats.get_value("log_count/ERROR", 0) if self.crawler.stats else 0
        )
        # Anything that may have lost items (a failed store, an exception) keeps the old
        # validators: the next run parses everything again and fetches what was lost.
        if reason != "finished" or getattr(spider, "store_error", None) or errors_logged:
            log.info("%s: crawl did not finish cleanly; validators not saved", spider.name)
            return
        rows = book.rows_to_save()
        try:
            incremental.save_validators(book.engine, rows)
        except Exception as error:  # noqa: BLE001 - losing validators only costs a re-parse
            log.warning("%s: saving HTTP validators failed: %s", spider.name, error)
