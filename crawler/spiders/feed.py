"""Discovery through a feed: RSS 0.9x/1.0/2.0 and Atom via feedparser, JSON Feed via json."""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import feedparser
from scrapy import Request
from scrapy.http import Response

from crawler.extract import parse_date
from crawler.items import Hints
from crawler.spiders.base import READ, Links, SourceSpider, read_links


class FeedSpider(SourceSpider):
    def read_discovery(self, response: Response) -> Links | None:
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        entries = parse_feed(response.body, content_type)
        if entries is None:
            return None
        return read_links(entries, response.url, self.source.max_links_per_page)

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        links = response.meta.pop(READ)
        if links is None:
            self.discovery_unusable(response, "not a readable RSS, Atom or JSON feed")
            return []
        self.count("feed_entries", links.listed)
        return self.article_requests(links, response.url)


def parse_feed(body: bytes, content_type: str = "") -> list[tuple[str, Hints]] | None:
    """(link, hints) per entry; None when the body is no feed at all. An empty feed is []."""
    if "json" in content_type or body.lstrip()[:1] == b"{":
        return _parse_json_feed(body)
    # feedparser decodes by the XML rules (declaration, BOM), so it gets bytes, not text.
    parsed = feedparser.parse(
        body, response_headers={"content-type": content_type or "application/xml"}
    )
    if not parsed.version and not parsed.entries:
        return None
    found = []
    for entry in parsed.entries:
        link = entry.get("link") or _first_alternate(entry)
        if not link:
            continue
        published = entry.get("published_parsed") or entry.get("updated_parsed")
        found.append(
            (
                link,
                Hints(
                    title=entry.get("title") or None,
                    author=entry.get("author") or None,
                    published=datetime.fromtimestamp(calendar.timegm(published), UTC)
                    if published
                    else None,
                ),
            )
        )
    return found


def _first_alternate(entry: Any) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _parse_json_feed(body: bytes) -> list[tuple[str, Hints]] | None:
    # feedparser 6 does not read JSON Feed (jsonfeed.org), so this small mapping does.
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # [[[[… 100,000 deep is no feed
        return None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return None
    found = []
    for item in document["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if not isinstance(link, str):
            continue
        authors = item.get("authors") or (
            [item["author"]] if isinstance(item.get("author"), dict) else []
        )
        author = ", ".join(a["name"] for a in authors if isinstance(a, dict) and a.get("name"))
        found.append(
            (
                link,
                Hints(
                    title=_text(item.get("title")),
                    author=author or None,
                    published=parse_date(
                        _text(item.get("date_published") or item.get("date_modified"))
                    ),
                ),
            )
        )
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
