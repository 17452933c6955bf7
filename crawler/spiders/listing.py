"""Discovery through HTML listing pages: article links, then rel=next or a "next" link."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.items import Hints
from crawler.spiders.base import SourceSpider

NEXT_TEXT = re.compile(
    r"^\s*(next|older|more|next page|older posts|›|»|→)\b|^\s*(next|older)?\s*[›»→]\s*$", re.I
)
PAGINATION = r"(/page/\d+/?$|[?&](page|p|pg)=\d+)"
NAVIGATION = r"/(tag|tags|category|categories|author|authors|search|login|about|contact|feed)(/|$)"


class ListingSpider(SourceSpider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.links = LinkExtractor(
            allow=self.source.follow or default_follow(self.source.url),
            deny=(PAGINATION, NAVIGATION),
            # netloc, not hostname: Scrapy compares host:port, and fixture sites have ports.
            allow_domains=[urlsplit(self.source.url).netloc],
            unique=True,
        )

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        if not isinstance(response, TextResponse):
            self.discovery_unusable(response, "the listing is not an HTML page")
            return []
        page = response.meta["walk"].page or 1
        self.count("listing_pages")
        links = [
            (link.url, Hints(title=link.text.strip() or None))
            for link in self.links.extract_links(response)
        ]
        requests = self.article_requests(links, base=response.url)
        next_url = next_page(response)
        if (
            next_url
            and page < self.source.pages
            and self.all_known
            and self.may_shortcut(response.url)
        ):
            # Newest first: a page of only stored articles means the older pages are stored too,
            # when the last walk got to the configured depth.
            self.count("listing_stopped_at_known")
        elif next_url and page < self.source.pages:
            request = self.discovery_request(next_url, response, page=page + 1)
            requests.extend([request] if request is not None else [])
        return requests

    def may_shortcut(self, url: str) -> bool:
        # The pages are one walk: any shortcut needs the last walk of the whole listing (from
        # its first page to the configured depth) to have caught up.
        return self.walks.caught_up(self.source.url)


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
