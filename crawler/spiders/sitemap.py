"""Discovery through a sitemap: urlsets, sitemap indexes, Google News sitemaps, .xml.gz."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.sitemapdates import recent_entries
from crawler.spiders.base import SourceSpider
from crawler.walks import Walk

GZIP_MAGIC = b"\x1f\x8b"


class SitemapSpider(SourceSpider):
    def parse_discovery(self, response: Response) -> Iterable[Request]:
        body = response.body
        if body[:2] == GZIP_MAGIC:
            try:
                # Bounded: a gzip bomb stops at the page size limit instead of filling memory.
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception as exc:  # noqa: BLE001 - any bad gzip is one unusable sitemap
                self.discovery_unusable(response, f"bad gzip body ({type(exc).__name__})")
                return []
        try:
            sitemap = Sitemap(body)
            entries = list(sitemap)
        except Exception as exc:  # noqa: BLE001 - lxml raises several types on junk
            self.discovery_unusable(response, f"not a sitemap ({type(exc).__name__})")
            return []
        now = datetime.now(UTC)
        backfill = self.context.backfill
        max_age = self.source.max_age
        if backfill is not None:  # its own --since, and no implicit limit for news sitemaps
            max_age = (now - backfill.since).total_seconds() if backfill.since else None
        walk: Walk = response.meta["walk"]
        if backfill is not None and walk.parent is None:  # the backfill ends with its root
            count = sitemap.type != "sitemapindex"  # a plain sitemap is its only step
            walk.then = partial(self.backfill_step, total=1, final=True, count=count)
        if sitemap.type == "sitemapindex":
            # Child sitemaps are skipped by <lastmod> only when max_age is set explicitly.
            children, too_old = recent_entries(entries, b"", max_age, now, backfill is None)
            if backfill is not None and backfill.pages is not None:
                children = children[: backfill.pages]
            self.count("sitemaps", len(children))
            self.count("skipped/too_old_sitemap", too_old)
            requests = [self.discovery_request(loc, response) for loc, _ in children]
            for request in filter(None, requests):
                if backfill is not None:  # each child sitemap is a step
                    request.meta["walk"].then = partial(self.backfill_step, total=len(children))
            return [request for request in requests if request is not None]
        if sitemap.type != "urlset":
            self.discovery_unusable(response, f"not a sitemap (root element {sitemap.type!r})")
            return []
        found, too_old = recent_entries(entries, body, max_age, now, backfill is None)
        self.count("skipped/too_old", too_old)
        self.count("sitemap_entries", len(found))
        return self.article_requests(found, base=response.url)
