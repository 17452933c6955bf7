"""What a source's first discovery response was: its HTTP status and the format its body is
in (`newsmon check --live` reports both). Sniffed from the first bytes, whatever the source's
mode, so a feed URL that now answers an HTML page says so; cheap enough for every crawl."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.http import Response

GZIP_MAGIC = b"\x1f\x8b"
HEAD = 4096  # bytes looked at: enough to pass an XML declaration, comments and a doctype
GZIP_HEAD = 65536  # compressed bytes inflated to find those
# The first element, past <?xml …?>, <!-- … --> and <!DOCTYPE …>: its local name decides.
ROOT = re.compile(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")
ROOTS = {
    b"rss": "rss",
    b"rdf": "rss",  # RSS 1.0 is RDF
    b"feed": "atom",
    b"urlset": "urlset",
    b"sitemapindex": "sitemapindex",
    b"html": "html",
}
# Formats as reported: rss, atom, jsonfeed, urlset, sitemapindex, html; else the media type.
JSON_FEED = "jsonfeed"


@dataclass(frozen=True)
class Discovery:
    status: int | None  # None when no response came (DNS, robots.txt, a refused address)
    format: str | None
    html: str | None = None  # the page itself, kept only when the context asks (check --live)


def sniff_format(body: bytes, content_type: str = "") -> str | None:
    """rss, atom, jsonfeed, urlset, sitemapindex or html from the body's first bytes; else the
    Content-Type's media type; None for an empty body without one."""
    head = body[:HEAD]
    if head[:2] == GZIP_MAGIC:  # a .xml.gz sitemap: inflate just enough of it
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body[:GZIP_HEAD], HEAD)
        except zlib.error:
            head = b""
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        # jsonfeed.org asks for a version URL; crawler/spiders/feed.py needs only "items".
        if b"jsonfeed.org/version" in head or b'"items"' in head:
            return JSON_FEED
    else:
        match = ROOT.search(head)
        if match is not None and match.group(1).lower() in ROOTS:
            return ROOTS[match.group(1).lower()]
    media = content_type.split(";", 1)[0].strip().lower()
    return media or None


def discovery_of(response: Response, keep_html: bool = False) -> Discovery:
    """The Discovery of a response; its decoded text too with `keep_html`, when it is text."""
    from scrapy.http import TextResponse

    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
    html = response.text if keep_html and isinstance(response, TextResponse) else None
    return Discovery(response.status, sniff_format(response.body, content_type), html)
