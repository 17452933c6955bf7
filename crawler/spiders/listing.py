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

log = logging.getLogger(__name__)

NEXT_TEXT = re.compile(
    r"^\s*(next|older|more|next page|older posts|›|»|→)\b|^\s*(next|older)?\s*[›»→]\s*$", re.I
)
PAGINATION = r"(/page/\d+/?$|[?&](page|p|pg)=\d+)"
NAVIGATION = r"/(tag|tags|category|categories|author|authors|search|login|about|contact|feed)(/|$)"


class ListingSpider(SourceSpider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
        page = response.meta.get("listing_page", 1)
        self.count("listing_pages")
        found = [
            (link.url, Hints(title=link.text.strip() or None))
            for link in self.links.extract_links(response)
            if self.follows(link.url)
        ]
        links = read_links(found, response.url, self.source.max_links_per_page)
        requests = self.article_requests(links, response.url)
        next_url = next_page(response)
        if next_url and page < self.source.pages and self.all_known:
            # Newest first: a page of only stored articles means the older pages are stored too.
            self.count("listing_stopped_at_known")
        elif next_url and page < self.source.pages:
            requests.append(self.discovery_request(next_url, meta={"listing_page": page + 1}))
        return requests

    def follows(self, url: str) -> bool:
        try:
            return search(self.follow, url)
        except TimeoutError:
            self.count("errors/regex_timeout")
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


def next_page(response: TextResponse) -> str | None:
    href = response.css('link[rel~="next"]::attr(href), a[rel~="next"]::attr(href)').get()
    if not href:
        for anchor in response.css("a[href]"):
            label = " ".join(anchor.css("::text").getall()) or anchor.attrib.get("aria-label", "")
            if NEXT_TEXT.search(label):
                href = anchor.attrib["href"]
                break
    return response.urljoin(href) if href else None
