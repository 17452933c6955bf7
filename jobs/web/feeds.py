"""Atom 1.0 feeds of stored items. ElementTree escapes every scraped string; nothing is spliced."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from storage.clock import to_utc
from storage.search import StoredItem

ATOM = "http://www.w3.org/2005/Atom"
SUMMARY_CHARS = 400
# Characters XML 1.0 forbids even escaped; scraped text sometimes carries them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def atom_feed(
    *, feed_id: str, title: str, self_url: str, alternate_url: str, items: Sequence[StoredItem]
) -> bytes:
    """An Atom document for `items` (newest first), UTF-8 encoded."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    _text(feed, "updated", _stamp(max((_updated(item) for item in items), default=None)))
    _text(_child(feed, "author"), "name", "newsmon")
    _text(feed, "generator", "newsmon")
    _link(feed, self_url, rel="self", type="application/atom+xml")
    _link(feed, alternate_url, rel="alternate", type="text/html")
    for item in items:
        feed.append(_entry(item))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(item: StoredItem) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", f"urn:newsmon:item:{item.id}")
    _text(entry, "title", item.title or item.url, type="text")
    _link(entry, item.url, rel="alternate")
    _text(entry, "updated", _stamp(_updated(item)))
    if item.published_at:
        _text(entry, "published", _stamp(item.published_at))
    if item.author:
        _text(_child(entry, "author"), "name", item.author)
    for keyword in item.keywords:
        _child(entry, "category", term=_clean(keyword))
    _child(entry, "category", term=_clean(item.source_name), label="source")
    _text(entry, "summary", _summary(item.text), type="text")
    return entry


def _summary(text: str) -> str:
    collapsed = " ".join(text.split())
    if len(collapsed) <= SUMMARY_CHARS:
        return collapsed
    return collapsed[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def _updated(item: StoredItem) -> datetime:
    return item.published_at or item.fetched_at


def _stamp(value: datetime | None) -> str:
    value = value or datetime.now(UTC)
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(value: str) -> str:
    return _NOT_XML.sub("", value)


def _child(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)


def _text(parent: ET.Element, tag: str, value: str, **attributes: str) -> ET.Element:
    element = _child(parent, tag, **attributes)
    element.text = _clean(value)
    return element


def _link(parent: ET.Element, href: str, **attributes: str) -> ET.Element:
    return _child(parent, "link", href=_clean(href), **attributes)
