"""Discovery through HTML listing pages: article links, then rel=next or a "next" link."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.items import Hints
from crawler.spiders.base import SourceSpider, read_links
from crawler.userregex import TIME_LIMIT, compile_pattern, search
from crawler.walks import Walk
from storage.queries import newest_published

log = logging.getLogger(__name__)

NEXT_TEXT = re.compile(
    r"^\s*(next|older|more|next page|older posts|›|»|→)\b|^\s*(next|older)?\s*[›»→]\s*$", re.I
)
PAGINATION = r"(/page/\d+/?$|[?&](page|p|pg)=\d+)"
NAVIGATION = r"/(tag|tags|category|categories|author|authors|search|login|about|contact|feed)(/|$)"


class ListingSpider(SourceSpider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: tuple[str, int] | None = None  # a backfill's first failed page
        # `follow` is the user's regex: it runs with a time limit, outside LinkExtractor.
        self.follow = compile_pattern(self.source.follow or default_follow(self.source.url))
        self.links = LinkExtractor(
            deny=(PAGINATION, NAVIGATION),
            # netloc, not hostname: Scrapy compares host:port, and fixture sites have ports.
            allow_domains=[urlsplit(self.source.url).netloc],
            unique=True,
        )

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        if not isinstance(response, TextResponse):
            self.discovery_unusable(response, "the listing is not an HTML page")
            return []
        walk: Walk = response.meta["walk"]
        page = walk.page or 1
        self.count("listing_pages")
        found, off_pattern = [], []
        for link in self.links.extract_links(response):
            if self.follows(link.url):
                found.append((link.url, Hints(title=link.text.strip() or None)))
            else:
                off_pattern.append(link.url)
        if not found and page == 1:
            self.count("listing_without_links")
            log.warning(
                "%s: %s has no article links%s",
                self.name,
                response.url,
                ""
                if self.source.renders(discovery=True)
                else " (if the page writes them with JavaScript, try `render: browser`)",
            )
        links = read_links(found, response.url, self.source.max_links_per_page)
        links.off_pattern = len(off_pattern)
        self.context.off_pattern_links.update(map(link_prefix, off_pattern))
        requests = self.article_requests(links, response.url)
        next_url = next_page(response)
        if self.context.backfill is not None:
            # One page at a time: the next one is asked for once this one's articles settled.
            if self.context.backfill.since is not None:
                self.walks.dated(walk, newest_published(self.context.engine, self.known_keys))
            walk.then = lambda done: self.backfill_page_done(done, next_url)
            return requests
        deeper = next_url is not None and page < self.source.pages
        if deeper and self.all_known and self.may_shortcut(response.url):
            # Newest first: a page of only stored articles means the older pages are stored too,
            # when the last walk got to the configured depth.
            self.count("listing_stopped_at_known")
        elif deeper and next_url and not self.out_of_articles:
            # A page cut by max_articles ends the walk: the next run carries on from it. One
            # cut for good (past max_links_per_page, a `follow` that timed out) does not: the
            # walk goes on deeper, and stays unfinished.
            request = self.discovery_request(next_url, response, page=page + 1)
            requests.extend([request] if request is not None else [])
        return requests

    def may_shortcut(self, url: str) -> bool:
        # The pages are one walk: any shortcut needs the last walk of the whole listing (from
        # its first page to the configured depth) to have caught up. A backfill takes none.
        return self.context.backfill is None and self.walks.caught_up(self.source.url)

    def backfill_page_done(self, walk: Walk, next_url: str | None) -> None:
        """A backfill step: save where to resume (the first page that failed, else the next
        one), and ask for the next page unless the backfill has gone far enough."""
        backfill = self.context.backfill
        assert backfill is not None
        page = walk.page or 1
        if walk.failed and self.held is None:
            self.held = (walk.url, page)
        deep_enough = backfill.pages is not None and page >= backfill.pages
        old_enough = backfill.since is not None and (walk.newest or backfill.since) < backfill.since
        more = next_url if next_url and not (deep_enough or old_enough) else None
        resume = self.held or ((more, page + 1) if more else None)
        self.backfill_step(walk, backfill.pages, resume, final=resume is None, number=page)
        if more:
            request = self.discovery_request(more, page=page + 1, first=False)
            if request is not None:
                self.crawler.engine.crawl(request)

    def follows(self, url: str) -> bool:
        try:
            return search(self.follow, url)
        except TimeoutError:
            # Whether it is an article is not known: the walk of this page did not finish.
            self.count("errors/regex_timeout")
            self.discovery_incomplete = True
            log.warning(
                "%s: follow %r ran past its %gs time limit on %s",
                self.name,
                self.follow.pattern,
                TIME_LIMIT,
                url[:200],
            )
            return False


def default_follow(listing_url: str) -> str:
    """Without a `follow` regex, articles are the links below the listing's own path."""
    path = urlsplit(listing_url).path.rstrip("/")
    return re.escape(path) + r"/.+" if path else r"/[^?#]*[a-z0-9]-[a-z0-9][^?#]*"


def link_prefix(url: str) -> str:
    """The first path segment of a link, as `/press-release/`: what a `follow` could match."""
    segment = urlsplit(url).path.lstrip("/").split("/", 1)[0]
    return f"/{segment}/" if segment else "/"


def next_page(response: TextResponse) -> str | None:
    href = response.css('link[rel~="next"]::attr(href), a[rel~="next"]::attr(href)').get()
    if not href:
        for anchor in response.css("a[href]"):
            label = " ".join(anchor.css("::text").getall()) or anchor.attrib.get("aria-label", "")
            if NEXT_TEXT.search(label):
                href = anchor.attrib["href"]
                break
    return response.urljoin(href) if href else None
