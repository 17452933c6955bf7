"""Discovery through a sitemap: urlsets, sitemap indexes, Google News sitemaps, .xml.gz.

A sitemap index can be hostile (one that lists itself under ever new names, or thousands of
children), so child sitemaps are bounded: max_sitemap_depth levels below the configured one,
max_sitemaps per run (the newest by <lastmod> first), and only on the source's own site or a
host in sitemap_hosts. Each bound that bites is counted and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.sitemapdates import entry_date, recent_entries
from crawler.spiders.base import READ, Links, SourceSpider, read_links
from crawler.urls import host_of, normalise_host
from crawler.walks import Walk

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
DEPTH = "sitemap_depth"  # meta key: levels below the configured sitemap


@dataclass
class SitemapPage:
    """What a sitemap held, read off the reactor thread."""

    problem: str | None = None  # why it is no usable sitemap
    children: list[tuple[str, datetime | None]] = field(default_factory=list)  # (loc, lastmod)
    links: Links | None = None  # a urlset's articles
    too_old: int = 0


class SitemapSpider(SourceSpider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sitemaps_requested = 0
        own = normalise_host(host_of(self.source.url))
        self.sitemap_hosts = {normalise_host(host) for host in self.source.sitemap_hosts}
        # The source's site: its host, and that host's domain and subdomains without "www.".
        self.site = own.removeprefix("www.")

    def read_discovery(self, response: Response) -> SitemapPage:
        body = response.body
        if body[:2] == GZIP_MAGIC:
            try:
                # Bounded: a gzip bomb stops at the page size limit instead of filling memory.
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception as exc:  # noqa: BLE001 - any bad gzip is one unusable sitemap
                return SitemapPage(f"bad gzip body ({type(exc).__name__})")
        try:
            sitemap = Sitemap(body)
            entries = list(sitemap)
        except Exception as exc:  # noqa: BLE001 - lxml raises several types on junk
            return SitemapPage(f"not a sitemap ({type(exc).__name__})")
        now = datetime.now(UTC)
        backfill = self.context.backfill
        max_age = self.source.max_age
        if backfill is not None:  # its own --since, and no implicit limit for news sitemaps
            max_age = (now - backfill.since).total_seconds() if backfill.since else None
        if sitemap.type == "sitemapindex":
            # Child sitemaps are skipped by <lastmod> only when max_age is set explicitly.
            kept, too_old = recent_entries(entries, b"", max_age, now, backfill is None)
            dates = {entry.get("loc"): entry_date(entry, None) for entry in entries}
            return SitemapPage(children=[(loc, dates.get(loc)) for loc, _ in kept], too_old=too_old)
        if sitemap.type != "urlset":
            return SitemapPage(f"not a sitemap (root element {sitemap.type!r})")
        found, too_old = recent_entries(entries, body, max_age, now, backfill is None)
        return SitemapPage(
            links=read_links(found, response.url, self.source.max_links_per_page),
            too_old=too_old,
        )

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        page: SitemapPage = response.meta.pop(READ)
        backfill = self.context.backfill
        walk: Walk = response.meta["walk"]
        index = page.problem is None and page.links is None
        if backfill is not None and walk.parent is None:  # the backfill ends with its root
            # A plain sitemap is its only step.
            walk.then = partial(self.backfill_step, total=1, final=True, count=not index)
        if page.problem:
            self.discovery_unusable(response, page.problem)
            return []
        if page.links is None:
            children = page.children
            if backfill is not None and backfill.pages is not None:
                children = children[: backfill.pages]
            self.count("sitemaps", len(children))
            self.count("skipped/too_old_sitemap", page.too_old)
            requests = self.child_requests(children, response)
            if backfill is not None:  # each child sitemap is a step
                for request in requests:
                    request.meta["walk"].then = partial(self.backfill_step, total=len(requests))
            return requests
        self.count("skipped/too_old", page.too_old)
        self.count("sitemap_entries", page.links.listed)
        return self.article_requests(page.links, response.url)

    def child_requests(
        self, children: list[tuple[str, datetime | None]], response: Response
    ) -> list[Request]:
        """Requests for an index's child sitemaps, within depth, site and per-run bounds."""
        source, depth = self.source, response.meta.get(DEPTH, 0) + 1
        if depth > source.max_sitemap_depth:
            self.skip_sitemaps(
                "sitemap_depth",
                len(children),
                response,
                f"{depth} levels below the source's (max_sitemap_depth {source.max_sitemap_depth})",
            )
            return []
        offsite = {loc for loc, _ in children if not self.on_site(loc)}
        self.skip_sitemaps(
            "offsite_sitemap", len(offsite), response, "on other sites (see sitemap_hosts)"
        )
        children = [(loc, when) for loc, when in children if loc not in offsite]
        room = max(0, source.max_sitemaps - self.sitemaps_requested)
        if len(children) > room:
            # The newest first; those without a <lastmod> last. A backfill puts the children
            # its earlier runs finished last, so that every run of it gets further.
            oldest, backfill = datetime.min.replace(tzinfo=UTC), self.context.backfill is not None
            children.sort(
                key=lambda child: (
                    not (backfill and self.walks.caught_up(child[0])),
                    child[1] or oldest,
                )
            )
            children.reverse()
            self.skip_sitemaps(
                "sitemap_cap",
                len(children) - room,
                response,
                f"past the run's max_sitemaps ({source.max_sitemaps}; the newest are read)",
            )
            children, past = children[:room], children[room:]
            # The next run must see this index again, unless what it left out caught up
            # already (in an earlier run of this backfill, say): then nothing below is missing.
            if not all(self.walks.caught_up(loc) for loc, _ in past):
                self.discovery_incomplete = True
        requests = [
            self.discovery_request(loc, response, meta={DEPTH: depth}) for loc, _ in children
        ]
        self.sitemaps_requested += len(children)
        return [request for request in requests if request is not None]

    def on_site(self, url: str) -> bool:
        host = normalise_host(host_of(url))
        return host in self.sitemap_hosts or host == self.site or host.endswith("." + self.site)

    def skip_sitemaps(self, kind: str, count: int, response: Response, why: str) -> None:
        if count:
            self.count(f"skipped/{kind}", count)
            log.warning(
                "%s: %s lists %d child sitemaps %s: not read", self.name, response.url, count, why
            )
