"""Incremental crawling on the spider side and in the pipelines.

- `IncrementalSpider` (mixed into SourceSpider): skips unchanged discovery responses, tracks
  which discovery URLs were processed in full, and re-requests recent articles conditionally.
- `RecheckPipeline`: a re-fetched article whose text really changed becomes a new version.
- `SignaturePipeline`: computes the near-duplicate signature of each new article.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.conditional import ValidatorBook
from storage import incremental
from storage.incremental import RecheckTarget
from storage.minhash import minhash
from storage.models import utcnow
from storage.neardup import DEFAULT_THRESHOLD, DuplicateLinker, index_signature

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
        self.validator_book = ValidatorBook(self.context.engine)
        threshold = getattr(self.context.config, "near_duplicates", None)
        self.duplicate_linker = DuplicateLinker(
            threshold.threshold if threshold is not None else DEFAULT_THRESHOLD
        )
        self.rechecking: dict[str, RecheckTarget] = {}
        self.discovery_incomplete = False
        self.all_known = False

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        raise NotImplementedError

    def parse_article(self, response: Response, hints: Any) -> Iterable[Any]:
        raise NotImplementedError

    def count(self, key: str, amount: int = 1) -> None:
        raise NotImplementedError

    def discovery_response(self, response: Response) -> list[Request]:
        """The callback of every discovery request: skip it when unchanged, else parse it."""
        if response.meta.get("unchanged"):
            return []
        url = response.request.url if response.request else response.url
        self.discovery_incomplete = False
        requests = list(self.parse_discovery(response))
        via = (*response.meta.get("via", ()), url)
        for request in requests:
            request.meta["via"] = via
            if "first_discovery" not in request.meta:
                request.meta["article"] = True
        if self.discovery_incomplete:
            self.validator_book.taint(via)
        else:
            self.validator_book.processed.add(url)
        return requests

    def recheck_article(self, response: Response, hints: Any) -> Iterable[Any]:
        if response.meta.get("unchanged"):
            self.count("recheck/unchanged")
            self.validator_book.rechecked.add(response.request.url if response.request else "")
            return []
        return self.parse_article(response, hints)

    def recheck_requests(
        self, known: set[str], candidates: dict[str, tuple[str, Any]]
    ) -> list[Request]:
        """Conditional re-fetches of known articles first fetched within the re-check window."""
        window = getattr(self.context.source, "recheck", None)
        if not window or not known:
            return []
        since = utcnow() - timedelta(seconds=window)
        targets = incremental.recheck_targets(self.context.engine, known, since)
        requests = []
        for key, target in targets.items():
            if key in self.rechecking:  # listed again by another feed, sitemap or page
                continue
            self.rechecking[key] = target
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

    def taint_failed(self, request: Request | None) -> None:
        if request is not None:
            self.validator_book.taint(request.meta.get("via", ()))


class RecheckPipeline:
    """Re-fetched articles: a real change is stored as a new version; they never reach Store."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecheckPipeline:
        return cls(crawler)

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        spider: Any = self.crawler.spider
        target = spider.rechecking.get(article.url_key)
        if target is None:
            return article
        try:
            changed = incremental.store_version(
                spider.context.engine,
                target.item_id,
                text=article.text,
                title=article.title,
                content_hash=article.content_hash,
                matches=article.matches,
                fetched_at=article.fetched_at,
                reindex=_reindex,
            )
        except SQLAlchemyError as error:
            spider.count("errors/store")
            log.error("%s: storing a new version of %s failed: %s", spider.name, article.url, error)
            raise DropItem(f"version_failed: {article.url}", log_level="DEBUG") from None
        spider.validator_book.rechecked.add(target.url)
        if changed is None:
            spider.count("recheck/same_text")
        else:
            spider.count("recheck/new_versions")
            spider.count("recheck/new_matches", len(changed.new_keywords))
            log.info(
                "%s: %s changed: version %d%s",
                spider.name,
                article.url,
                changed.version,
                f", newly flagged {', '.join(changed.new_keywords)}"
                if changed.new_keywords
                else "",
            )
        raise DropItem(f"rechecked: {article.url}", log_level="DEBUG")


def _reindex(session: Session, item_id: int, text: str) -> None:
    index_signature(session, item_id, minhash(text))


class SignaturePipeline:
    """Computes each new article's MinHash before the store transaction links it."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SignaturePipeline:
        return cls(crawler)

    def process_item(self, article: ArticleRecord) -> ArticleRecord:
        linker = self.crawler.spider.duplicate_linker  # type: ignore[union-attr]
        linker.remember(article.url_key, article.text, article.signature)
        return article
