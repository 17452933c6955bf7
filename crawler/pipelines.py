"""Item pipeline stages, in order: extract and flag (process pool) -> store (batched)."""

from __future__ import annotations

import asyncio
import logging
import time

from scrapy import signals
from scrapy.exceptions import DropItem
from sqlalchemy.exc import InterfaceError, OperationalError
from twisted.internet import task

from crawler.components import Component
from crawler.extract import NotAnArticle, extract_article
from crawler.items import FetchedPage, RawResponse
from crawler.pool import submit_page
from storage.archive import ArchivedPage
from storage.deliveries import AlertRoute
from storage.queries import ArticleRecord, store_articles

log = logging.getLogger(__name__)

EXTRACT_TIMEOUT_S = 120
STORE_BATCH = 50
# A batch is stored when full or when its first item has waited this long: on a slow site a
# kill then loses (to the next run) seconds of work, not a half-full batch.
STORE_MAX_WAIT_S = 2.0


class ExtractPipeline(Component):
    """Turns a fetched page into an article record, flagged with the keyword rules: all of it
    in the worker pool (crawler/worker.py); a regex that runs past its time limit
    (crawler/userregex.py) is counted as an error of the run."""

    def configure(self) -> None:
        extract = self.context.source.extract
        self.rules = extract.rules() if extract is not None else None  # the source's own

    async def process_item(self, page: FetchedPage) -> ArticleRecord:
        future = submit_page(page, self.context.matcher, extract_article, self.rules)
        try:
            processed = await asyncio.wait_for(asyncio.wrap_future(future), EXTRACT_TIMEOUT_S)
        except NotAnArticle as reason:
            self.count("skipped/not_article")
            self.context.walks.settle(page.walk, ok=True)
            raise DropItem(f"not_article: {page.url} ({reason})", log_level="DEBUG") from None
        except Exception as error:  # noqa: BLE001 - a page that breaks the extractor is counted, not fatal
            self.count("errors/extract")
            self.context.walks.settle(page.walk, ok=False)
            log.warning("%s: extraction failed for %s: %r", page.source, page.url, error)
            raise DropItem(f"extract_failed: {page.url}", log_level="DEBUG") from None
        for _rule in processed.regex_timeouts:
            self.count("errors/regex_timeout")
        record = processed.record
        if page.raw is not None:  # compressed off the reactor: a large page stalls no one
            record.page = await asyncio.to_thread(archived_page, page.raw)
        self.context.walks.expect(record.url_key, page.walk)
        self.context.walks.dated(page.walk, record.published_at)
        return record


def archived_page(raw: RawResponse) -> ArchivedPage:
    return ArchivedPage.pack(raw.url, raw.status, raw.headers, raw.body, raw.fetched_at)


class StorePipeline(Component):
    """Buffers articles and writes them in batches; each batch is one transaction.

    A batch the database refuses because of what is in it is retried item by item, so a bad
    item fails alone; one it refuses outright (locked, disk full, gone) fails whole. Either
    way each lost item is counted as a `store` error and its walk stays unfinished, so the next
    run fetches it again.
    """

    def configure(self) -> None:
        self.pending: list[ArticleRecord] = []
        self.pending_since = 0.0
        self.crawler.signals.connect(self.flush, signal=signals.spider_idle)
        # A clock, not the next item, ends the wait: behind a slow page no item may come.
        self.clock = task.LoopingCall(self.flush_waited)

    def open_spider(self) -> None:
        self.clock.start(STORE_MAX_WAIT_S / 4, now=False)

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending.append(article)
        if len(self.pending) >= STORE_BATCH:
            self.flush()
        return article

    def flush_waited(self) -> None:
        if self.pending and time.monotonic() - self.pending_since >= STORE_MAX_WAIT_S:
            self.flush()

    def close_spider(self) -> None:
        if self.clock.running:
            self.clock.stop()
        self.flush()

    def flush(self) -> None:
        """Store what is buffered (also when the crawl idles, so a walk's last items wait for
        no one)."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        try:
            self.context.save_progress()  # walks below which items are stored are walking first
        except Exception as error:  # noqa: BLE001 - unsaved, storing could fake a finished walk
            self.lost(batch, error, whole=True)
            return
        try:
            self.store(batch)
        except (OperationalError, InterfaceError) as error:
            self.lost(batch, error, whole=True)
        except Exception as error:  # noqa: BLE001 - what it was, the items one by one tell
            log.warning(
                "%s: storing %d items failed (%s); storing them one by one",
                self.context.source.name,
                len(batch),
                describe(error),
            )
            self.one_by_one(batch)
        try:
            self.context.save_progress()  # the walks these items were the last of caught up
        except Exception as error:  # noqa: BLE001 - unsaved, a walk is only walked again
            log.warning("%s: saving crawl progress failed: %s", self.context.source.name, error)

    def one_by_one(self, batch: list[ArticleRecord]) -> None:
        for index, article in enumerate(batch):
            try:
                self.store([article])
            except (OperationalError, InterfaceError) as error:
                self.lost(batch[index:], error, whole=True)
                return
            except Exception as error:  # noqa: BLE001 - this item fails, the others go on
                self.lost([article], error)

    def store(self, batch: list[ArticleRecord]) -> None:
        context = self.context
        # Deliveries are owed in the same transaction as the items: none lost, none twice.
        alerts = [
            AlertRoute(alert.name, frozenset(alert.keywords) or None)
            for alert in context.config.item_alerts()
        ]
        stored = store_articles(
            context.engine,
            context.source_id,
            batch,
            alerts,
            after_insert=context.duplicate_linker.link,
        )
        self.count("new_items", len(stored.new_item_ids))
        self.count("flagged", len(stored.flagged_item_ids))
        self.count("skipped/already_stored", len(batch) - len(stored.new_item_ids))
        for article in batch:
            self.context.walks.stored(article.url_key, ok=True)

    def lost(
        self, articles: list[ArticleRecord], error: BaseException, whole: bool = False
    ) -> None:
        """These items rolled back: nothing half-written, and the next run fetches them again."""
        self.count("errors/store", len(articles))
        for article in articles:
            self.context.walks.stored(article.url_key, ok=False)
        message = f"storing {len(articles)} items failed: {describe(error)}"
        if whole:  # the database refuses writes: the source's run fails
            self.context.store_error = message
            log.error("%s: %s", self.context.source.name, message)
        else:
            log.error(
                "%s: storing %s failed: %s",
                self.context.source.name,
                articles[0].url,
                describe(error),
            )


def describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {getattr(error, 'orig', None) or error}"
