"""Incremental crawling on the spider side and in the pipelines.

- `IncrementalSpider` (mixed into SourceSpider): skips unchanged discovery responses where the
  last walk caught up, feeds the walk tracker (crawler/walks.py) and saves its progress, and
  re-requests recent articles conditionally.
- `RecheckPipeline`: a re-fetched article whose text really changed becomes a new version.
- `SignaturePipeline`: computes the near-duplicate signature of each new article.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.http import Response
from sqlalchemy.orm import Session

from crawler.components import Component
from crawler.redact import sealed
from crawler.walks import BackfillStep, Walk, WalkTracker
from storage import incremental, validators
from storage import walks as walk_store
from storage.archive import ArchivedPage, add_pages
from storage.clock import utcnow
from storage.neardup import index_signature
from storage.text import minhash

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.context import SourceContext
    from storage.queries import ArticleRecord

log = logging.getLogger(__name__)


class IncrementalSpider:
    """What a source spider needs to crawl incrementally; SourceSpider mixes it in."""

    context: SourceContext
    crawler: Crawler

    def init_incremental(self) -> None:
        self.context.open_crawl()
        self.discovery_incomplete = False
        self.all_known = False

    @property
    def walks(self) -> WalkTracker:
        return self.context.walks

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        raise NotImplementedError

    def parse_article(self, response: Response, hints: Any) -> Iterable[Any]:
        raise NotImplementedError

    def count(self, key: str, amount: int = 1) -> None:
        raise NotImplementedError

    def may_shortcut(self, url: str) -> bool:
        """Whether an unchanged response may end the walk at `url`: its last walk caught up."""
        return self.walks.caught_up(url)

    def discovery_response(self, response: Response) -> list[Request]:
        """Every discovery response, once read (SourceSpider.discovery_arrived, which also
        marks its walk walking): skip it when unchanged, else parse it."""
        walk: Walk = response.meta["walk"]
        if response.meta.get("unchanged"):
            self.walks.unchanged(walk)
            return []
        self.discovery_incomplete = False
        requests = list(self.parse_discovery(response))
        for request in requests:
            if "walk" not in request.meta:  # an article or a re-check below this walk
                request.meta["walk"] = walk
                request.meta.setdefault("article", "recheck" not in request.meta)
                self.walks.below(walk)
        self.walks.parsed(walk, complete=not self.discovery_incomplete)
        return requests

    def recheck_article(self, response: Response, hints: Any) -> Iterable[Any]:
        if response.meta.get("unchanged"):
            self.count("recheck/unchanged")
            self.context.validator_book.rechecked.add(
                response.request.url if response.request else ""
            )
            self.walks.settle(response.meta["walk"], ok=True)
            return []
        return self.parse_article(response, hints)

    def recheck_requests(
        self, known: set[str], candidates: dict[str, tuple[str, Any]]
    ) -> list[Request]:
        """Conditional re-fetches of known articles first fetched within the re-check window."""
        window = self.context.source.recheck
        if not window or not known:
            return []
        since = utcnow() - timedelta(seconds=window)
        targets = incremental.recheck_targets(self.context.engine, known, since)
        requests = []
        for key, target in targets.items():
            if key in self.context.rechecking:  # listed again by another feed, sitemap or page
                continue
            self.context.rechecking[key] = target
            requests.append(
                Request(
                    target.url,
                    callback=self.recheck_article,
                    errback=self.on_error,  # type: ignore[attr-defined]
                    cb_kwargs={"hints": candidates[key][1]},
                    meta={"recheck": target},
                )
            )
        self.count("recheck/requested", len(requests))
        return requests

    def request_ended(self, request: Request, ok: bool) -> None:
        """A request of a walk ended without a response to parse (failed, skipped, dropped)."""
        walk: Walk | None = request.meta.get("walk")
        if walk is None:
            return
        if "first_discovery" not in request.meta:
            self.walks.settle(walk, ok)
        elif ok:
            self.walks.unchanged(walk)  # deliberately not fetched (robots.txt): nothing below
        else:
            self.walks.fetch_failed(walk)

    def backfill_step(
        self,
        walk: Walk,
        total: int | None,
        resume: tuple[str, int | None] | None = None,
        final: bool = False,
        count: bool = True,
        number: int | None = None,
    ) -> None:
        """A backfill step is done (`count`: one of its steps, `number` its place, else the
        count of steps done in this run): save where the backfill resumes, or, when it was
        the `final` one and caught up, that the backfill finished."""
        backfill = self.context.backfill
        assert backfill is not None
        engine, source_id = self.context.engine, self.context.source_id
        if final and not walk.failed:
            walk_store.finish_backfill(engine, source_id)
        if not count:
            return
        backfill.steps_this_run += 1
        url, page = resume or (None, None)
        stored_url = sealed(url, self.context.source.url) if url else None  # no api_key kept
        walk_store.backfill_step(engine, source_id, stored_url, page)
        if backfill.report is not None:
            stats = self.crawler.stats
            new = stats.get_value("newsmon/new_items", 0) if stats is not None else 0
            done = number if number is not None else backfill.steps_this_run
            step = BackfillStep(
                self.context.source.name, done, total, walk.url, not walk.failed, new
            )
            backfill.report(step)

    def closed(self, reason: str) -> None:
        """Scrapy calls this after the pipelines closed: save the rest of the progress."""
        try:
            self.context.save_progress()
            validators.save_validators(self.context.engine, self.context.validator_book.item_rows())
        except Exception as error:  # noqa: BLE001 - unsaved progress costs a fuller walk, no more
            log.warning("%s: saving crawl progress failed: %s", self.context.source.name, error)


class RecheckPipeline(Component):
    """Re-fetched articles: a real change is stored as a new version; they never reach Store.

    Left out of a crawl whose source re-checks nothing (no `recheck` window).
    """

    def configure(self) -> None:
        if not self.context.source.recheck:
            raise NotConfigured  # nothing to re-check (a message would make Scrapy warn)

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        context = self.context
        target = context.rechecking.get(article.url_key)
        if target is None:
            return article
        name = context.source.name
        try:
            changed = incremental.store_version(
                context.engine,
                target.item_id,
                text=article.text,
                title=article.title,
                content_hash=article.content_hash,
                matches=article.matches,
                fetched_at=article.fetched_at,
                reindex=functools.partial(reindex_item, page=article.page),
            )
        except Exception as error:  # noqa: BLE001 - any store failure fails this item alone
            self.count("errors/store")
            context.walks.stored(article.url_key, ok=False)
            log.error("%s: storing a new version of %s failed: %s", name, article.url, error)
            raise DropItem(f"version_failed: {article.url}", log_level="DEBUG") from None
        context.validator_book.rechecked.add(target.url)
        context.walks.stored(article.url_key, ok=True)
        if changed is None:
            self.count("recheck/same_text")
        else:
            self.count("recheck/new_versions")
            if changed.new_keywords:
                self.count("recheck/new_matches", len(changed.new_keywords))
            log.info(
                "%s: %s changed: version %d%s",
                name,
                article.url,
                changed.version,
                f", newly flagged {', '.join(changed.new_keywords)}"
                if changed.new_keywords
                else "",
            )
        raise DropItem(f"rechecked: {article.url}", log_level="DEBUG")


def reindex_item(
    session: Session, item_id: int, text: str, page: ArchivedPage | None = None
) -> None:
    """What a new version of an item refreshes: its signature, and the archived page (the one
    its current text came from, so that re-extraction starts from it)."""
    index_signature(session, item_id, minhash(text))
    if page is not None:
        add_pages(session, [(item_id, page)])


class SignaturePipeline(Component):
    """Computes each new article's MinHash before the store transaction links it."""

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        self.context.duplicate_linker.remember(article.url_key, article.text, article.signature)
        return article
