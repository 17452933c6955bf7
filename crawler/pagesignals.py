"""What a page says about itself, read once from its parsed tree: its declared language, its
`og:type`, its ld+json (types, isAccessibleForFree, articleBody), how much of its text is links,
and its URL's shape. These keep section and tag pages out without trading away article text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# schema.org's article types: a page that declares one is an article whatever its links.
ARTICLE_TYPES = frozenset(
    [
        "Article",
        "NewsArticle",
        "AnalysisNewsArticle",
        "AskPublicNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReportageNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
        "ScholarlyArticle",
        "TechArticle",
        "SocialMediaPosting",
    ]
)
LISTING_TYPES = frozenset(["CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage"])
# Paths of section, tag, author, archive and paging pages on news and ministry sites.
SECTION_PATH = re.compile(
    r"/(tags?|topics?|categor(y|ies)|sections?|authors?|archives?|search|page)(/|$)"
    r"|/page/\d+/?$",
    re.IGNORECASE,
)
# Page furniture every page has (navigation, header, footer, sidebars): its text is not read.
FURNITURE = frozenset({"script", "style", "noscript", "nav", "header", "footer", "aside"})
# Words of a consent-management wall; a short text with many of them is the wall, not a story.
CONSENT_WORDS = re.compile(
    r"\b(cookies?|consent(ing)?|partners|privacy|preferences|personali[sz]ed|advertising"
    r"|identifiers|device|accept all|reject all|manage options)\b",
    re.IGNORECASE,
)
CONSENT_TEXT_CHARS = 2500
CONSENT_KINDS = 6
MAX_LD_JSON_CHARS = 1_000_000  # a bigger script block is not metadata anyone needs
# A share of link text no article reaches; lower when the page also looks like a listing, and
# higher when a feed or sitemap listed it as an entry (a link-heavy story may be real there).
LINKS_ONLY = 0.5
LINKS_LISTING = 0.3
LINKS_LISTED = 0.8


@dataclass(frozen=True)
class PageSignals:
    url: str
    declared_language: str | None = None
    og_type: str | None = None
    ld_types: frozenset[str] = frozenset()
    accessible_for_free: bool | None = None
    article_body: str | None = None
    link_density: float = 0.0

    @property
    def says_article(self) -> bool:
        return self.og_type == "article" or bool(self.ld_types & ARTICLE_TYPES)

    def listing_signs(self) -> list[str]:
        """Why the page looks like a section or tag page, weakest evidence included."""
        signs = [f"its ld+json says {kind}" for kind in sorted(self.ld_types & LISTING_TYPES)]
        if self.og_type and self.og_type != "article":
            signs.append(f"og:type is {self.og_type}")
        if SECTION_PATH.search(urlsplit(self.url).path):
            signs.append("its URL is a section's")
        return signs

    def section_reason(self, listed: bool = False) -> str | None:
        """Why this page is a section or tag page rather than an article, or None.

        A page that declares itself an article is one; otherwise link density decides, at a
        lower bar when other signs point to a listing and a higher one when discovery listed
        it as an entry.
        """
        if self.says_article:
            return None
        share = f"{self.link_density:.0%} of its text is links"
        signs = self.listing_signs()
        if signs and self.link_density >= (LINKS_ONLY if listed else LINKS_LISTING):
            return f"a section page: {share}, {', '.join(signs)}"
        if self.link_density >= (LINKS_LISTED if listed else LINKS_ONLY):
            return f"a list of links: {share}"
        return None


def consent_wall(text: str) -> bool:
    """Whether a short text is a cookie or consent wall (what some sites serve instead)."""
    if len(text) > CONSENT_TEXT_CHARS:
        return False
    kinds = {match.group(0).lower().rstrip("s") for match in CONSENT_WORDS.finditer(text)}
    return len(kinds) >= CONSENT_KINDS


def read_signals(tree: Any, url: str) -> PageSignals:
    """The signals of a parsed page (lxml.html), read before anything is cut from it."""
    ld = list(_ld_nodes(tree))
    types = frozenset(kind for node in ld for kind in _types(node))
    article = next((node for node in ld if _types(node) & ARTICLE_TYPES), None)
    # The article's own flag first, then any node's (some sites put it on the WebPage).
    flags = [_bool(node.get("isAccessibleForFree")) for node in ([article] if article else []) + ld]
    free = next((flag for flag in flags if flag is not None), None)
    body = article.get("articleBody") if article else None
    return PageSignals(
        url=url,
        declared_language=_declared_language(tree),
        og_type=_og_type(tree),
        ld_types=types,
        accessible_for_free=free,
        article_body=" ".join(body.split()) if isinstance(body, str) else None,
        link_density=_link_density(tree),
    )


def _declared_language(tree: Any) -> str | None:
    root = tree.getroottree().getroot()
    declared = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    match = re.match(r"\s*([A-Za-z]{2,3})\b", declared or "")
    return match.group(1).lower() if match else None


def _og_type(tree: Any) -> str | None:
    for content in tree.xpath("//meta[@property='og:type']/@content"):
        value = str(content).strip().lower()
        if value:
            return value.split(".")[0]  # the kind: "video" of "video.other"
    return None


def _ld_nodes(tree: Any) -> Iterator[dict[str, Any]]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        raw = script.text or ""
        if len(raw) > MAX_LD_JSON_CHARS:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        yield from _walk(data, depth=0)


def _walk(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for entry in data:
            yield from _walk(entry, depth + 1)
    elif isinstance(data, dict):
        yield data
        yield from _walk(data.get("@graph"), depth + 1)


def _types(node: dict[str, Any]) -> frozenset[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return frozenset(k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str))


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _link_density(tree: Any) -> float:
    """The share of the body's text, furniture left out, that is inside links.

    One walk over the elements: an XPath with ancestor tests per text node cost 4 times as much.
    """
    counts = [0, 0]  # characters read, characters in links

    def read(text: str | None, linked: bool) -> None:
        if text and (length := len(text.strip())):
            counts[0] += length
            if linked:
                counts[1] += length

    def walk(element: Any, linked: bool) -> None:
        for child in element:
            # Comments and processing instructions have no string tag; only their tail is text.
            if isinstance(child.tag, str) and child.tag not in FURNITURE:
                inside = linked or child.tag == "a"
                read(child.text, inside)
                walk(child, inside)
            read(child.tail, linked)  # a tail belongs to the parent

    for body in tree.iter("body"):
        read(body.text, False)
        walk(body, False)
    return counts[1] / counts[0] if counts[0] else 0.0
