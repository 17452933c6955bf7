"""Discovery through a sitemap: urlsets, sitemap indexes, Google News sitemaps, .xml.gz."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.sitemapdates import recent_entries
from crawler.spiders.base import SourceSpider

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
        if sitemap.type == "sitemapindex":
            # Child sitemaps are skipped by <lastmod> only when max_age is set explicitly.
            children, too_old = recent_entries(entries, b"", self.source.max_age, now)
            self.count("sitemaps", len(children))
            self.count("skipped/too_old_sitemap", too_old)
            requests = [self.discovery_request(loc, response) for loc, _ in children]
            return [request for request in requests if request is not None]
        if sitemap.type != "urlset":
            self.discovery_unusable(response, f"not a sitemap (root element {sitemap.type!r})")
            return []
        found, too_old = recent_entries(entries, body, self.source.max_age, now)
        self.count("skipped/too_old", too_old)
        self.count("sitemap_entries", len(found))
        return self.article_requests(found, base=response.url)
