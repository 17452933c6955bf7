"""Item pipeline stages, in order: extract (process pool) -> flag (keywords) -> store (batched)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from crawler.extract import Extracted, NotAnArticle, date_from_url, extract_article
from crawler.items import FetchedPage
from crawler.pool import extraction_pool
from crawler.urls import InvalidURL, canonicalize, url_key
from storage.deliveries import AlertRoute
from storage.queries import ArticleRecord, MatchRecord, store_articles

log = logging.getLogger(__name__)

EXTRACT_TIMEOUT_S = 120
STORE_BATCH = 50


class Stage:
    """A pipeline stage that reaches its source's context through the crawler."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)

    @property
    def spider(self) -> Any:
        return self.crawler.spider

    def count(self, key: str, amount: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newsmon/{key}", amount)


class ExtractPipeline(Stage):
    """Runs trafilatura in the worker pool and turns a fetched page into an article record."""

    async def process_item(self, page: FetchedPage) -> ArticleRecord:
        future = extraction_pool().submit(extract_article, page.html, page.url)
        try:
            extracted = await asyncio.wait_for(asyncio.wrap_future(future), EXTRACT_TIMEOUT_S)
        except NotAnArticle as reason:
            self.count("skipped/not_article")
            raise DropItem(f"not_article: {page.url} ({reason})", log_level="DEBUG") from None
        except Exception as error:  # noqa: BLE001 - a page that breaks the extractor is counted, not fatal
            self.count("errors/extract")
            log.warning("%s: extraction failed for %s: %r", page.source, page.url, error)
            raise DropItem(f"extract_failed: {page.url}", log_level="DEBUG") from None
        return article_record(page, extracted)


def article_record(page: FetchedPage, extracted: Extracted) -> ArticleRecord:
    """Merge extraction with discovery hints; hints fill what the page did not say."""
    published, date_source = extracted.published, "page"
    if published is None and page.hints.published is not None:
        published, date_source = page.hints.published, "feed"
    if published is None:
        published, date_source = date_from_url(page.url), "url"
    return ArticleRecord(
        url=page.url,
        url_key=url_key(page.url),
        text=extracted.text,
        content_hash=content_hash(extracted.text),
        title=extracted.title or page.hints.title,
        author=extracted.author or page.hints.author,
        published_at=published,
        date_source=date_source if published else None,
        canonical_url=_declared_canonical(extracted.canonical_url, page.url),
        language=extracted.language,
        site_name=extracted.site_name,
        signature=extracted.signature or None,
    )


def _declared_canonical(declared: str | None, url: str) -> str | None:
    """The page's own rel=canonical, canonicalised; kept as metadata, never as identity."""
    if not declared or declared == url:
        return declared
    try:
        return canonicalize(declared, base=url)
    except InvalidURL:
        return None


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


class FlagPipeline(Stage):
    """Attaches the keyword matches of the source's rules; a regex that runs past its time
    limit (crawler/userregex.py) is counted as an error of the run."""

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        matches = self.spider.context.matcher.match(
            article.title or "",
            article.text,
            source=self.spider.source.name,
            on_timeout=lambda _rule: self.count("errors/regex_timeout"),
        )
        article.matches = [
            MatchRecord(m.keyword, m.field, m.start, m.end, m.snippet) for m in matches
        ]
        return article


class StorePipeline(Stage):
    """Buffers articles and writes them in batches; each batch is one transaction."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.pending: list[ArticleRecord] = []

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        self.pending.append(article)
        if len(self.pending) >= STORE_BATCH:
            self.flush()
        return article

    def close_spider(self) -> None:
        self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        context = self.spider.context
        # Deliveries are owed in the same transaction as the items: none lost, none twice.
        alerts = [
            AlertRoute(alert.name, frozenset(alert.keywords) or None)
            for alert in context.config.alerts
        ]
        try:
            stored = store_articles(
                context.engine,
                context.source_id,
                batch,
                alerts,
                after_insert=self.spider.duplicate_linker.link,
            )
        except SQLAlchemyError as error:
            # The batch rolled back whole: nothing half-written, and the next run fetches it again.
            self.count("errors/store", len(batch))
            self.spider.store_error = f"storing {len(batch)} items failed: {error.__class__.__name__}: {error.orig if hasattr(error, 'orig') else error}"
            log.error("%s: %s", self.spider.name, self.spider.store_error)
            return
        self.count("new_items", len(stored.new_item_ids))
        self.count("flagged", len(stored.flagged_item_ids))
        self.count("skipped/already_stored", len(batch) - len(stored.new_item_ids))
