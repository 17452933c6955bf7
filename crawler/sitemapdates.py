"""Dates of sitemap entries, for skipping old ones: `<lastmod>` and Google News dates.

Scrapy's Sitemap parser keeps `<lastmod>` but flattens nested `<news:news>` children away, so
`<news:publication_date>` is read here with lxml, configured as safely as Scrapy's own: no
entity expansion, no network access.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from lxml import etree

from crawler.extract import parse_date
from crawler.items import Hints

log = logging.getLogger(__name__)

NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
NEWS_MAX_AGE = 7 * 86400.0  # a news sitemap's default max_age: Google News lists 2 days anyway


def is_news_sitemap(body: bytes) -> bool:
    return NEWS_NS.encode("ascii") in body


def publication_dates(body: bytes) -> dict[str, str]:
    """loc -> `<news:publication_date>` text, for every `<url>` of a Google News sitemap."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, remove_comments=True
    )
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return {}
    if root is None:
        return {}
    dates = {}
    for url in root.iter("{*}url"):
        loc = (url.findtext("{*}loc") or "").strip()
        published = url.findtext(f"{{{NEWS_NS}}}news/{{{NEWS_NS}}}publication_date")
        if loc and published:
            dates[loc] = published.strip()
    return dates


def entry_date(entry: Mapping[str, str], published: str | None) -> datetime | None:
    """When an entry was published (news date) or last changed (`<lastmod>`)."""
    return parse_date(published) or parse_date((entry.get("lastmod") or "").strip() or None)


def recent_entries(
    entries: Iterable[Mapping[str, str]],
    body: bytes,
    max_age: float | None,
    now: datetime,
    news_default: bool = True,
) -> tuple[list[tuple[str, Hints]], int]:
    """(loc, hints) of the entries not older than max_age, and how many were too old.

    `max_age` None means: 7 days for a Google News sitemap (unless `news_default` is off, as
    for a backfill), no limit for a plain one. An entry without a date is kept: its age is
    unknown.
    """
    news = is_news_sitemap(body)
    dates = publication_dates(body) if news else {}
    if max_age is None and news and news_default:
        max_age = NEWS_MAX_AGE
    cutoff = now - timedelta(seconds=max_age) if max_age is not None else None
    found, too_old = [], 0
    for entry in entries:
        loc = entry.get("loc")
        if not loc:
            continue
        published = dates.get(loc)
        when = entry_date(entry, published)
        if cutoff is not None and when is not None and when < cutoff:
            too_old += 1
            continue
        found.append((loc, Hints(published=parse_date(published))))
    return found, too_old
