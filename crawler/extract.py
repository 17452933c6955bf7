"""Article extraction with trafilatura. Runs inside worker processes, so it stays import-safe.

`extract_article` is the one entry point: the crawl's workers call it, and so does anything
that extracts again from a stored page. A source's own rules (crawler/siterules.py) come first
where they are given; trafilatura does the rest.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.pagesignals import PageSignals, consent_wall, read_signals
from crawler.siterules import SiteRules
from storage.clock import to_utc

MIN_TEXT_CHARS = 250
URL_DATE = re.compile(r"/((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|\b)")

# Which extractor gave the text (Extracted.extracted_by): the source's `extract.body` rule,
# trafilatura, or trafilatura's text of last resort on a page that says it is an article.
BY_RULES = "rules"
BY_TRAFILATURA = "trafilatura"
BY_FALLBACK = "trafilatura+fallback"


@dataclass(frozen=True)
class Extracted:
    """What a page gave: clean text plus metadata trafilatura found in it."""

    text: str
    title: str | None
    author: str | None
    published: datetime | None
    language: str | None
    canonical_url: str | None
    site_name: str | None
    signature: bytes = b""  # MinHash values of the text: computed here, off the event loop
    extracted_by: str = BY_TRAFILATURA
    language_source: str | None = None  # "page" (declared) or "text" (detected)
    accessible_for_free: bool | None = None  # ld+json isAccessibleForFree, when the page says


class NotAnArticle(Exception):
    """The page parsed, but holds no article (empty, a login wall, a list of links)."""


def extract_article(
    html: str,
    url: str,
    min_chars: int = MIN_TEXT_CHARS,
    rules: SiteRules | None = None,
    listed: bool = False,
) -> Extracted:
    """Clean text and metadata of one page; raises NotAnArticle when there is none.

    `rules` are the source's own; `listed` says discovery described the page as an entry
    (a feed item, a news sitemap entry), which counts against calling it a section page.
    """
    from trafilatura.utils import load_html

    from crawler.language import page_language
    from storage.text import minhash, to_bytes

    tree = load_html(html)
    if tree is None:
        raise NotAnArticle("no HTML to parse")
    signals = read_signals(tree, url)
    # Title and date rules read the page as served; `remove` cuts only what the text is from.
    rule_title = rules.title_text(tree) if rules else None
    rule_date = parse_date(rules.date.find(tree)) if rules and rules.date else None
    if rules is not None:
        min_chars = rules.min_chars or min_chars
        rules.strip(tree)
    text, by, document = _text(tree, url, rules, signals)
    if len(text) < min_chars:
        raise NotAnArticle(f"{len(text)} characters of text")
    if by != BY_RULES:  # the source's own rules say where its articles are: they are trusted
        reason = signals.section_reason(listed)
        if reason:
            raise NotAnArticle(reason)
        if consent_wall(text):
            raise NotAnArticle("a cookie or consent wall")
    title = rule_title or _clean(document.title)
    published = rule_date or parse_date(document.date)
    language, language_source = page_language(signals.declared_language, text)
    return Extracted(
        text=text,
        title=title,
        author=_clean(document.author),
        published=published,
        language=language,
        canonical_url=_clean(document.url),
        site_name=_clean(document.sitename),
        signature=to_bytes(minhash(text)),
        extracted_by=by,
        language_source=language_source,
        accessible_for_free=signals.accessible_for_free,
    )


def _text(
    tree: Any, url: str, rules: SiteRules | None, signals: PageSignals
) -> tuple[str, str, Any]:
    """(text, which extractor gave it, trafilatura's metadata document)."""
    import trafilatura
    from trafilatura.metadata import extract_metadata

    if rules is not None and rules.body:
        text = rules.body_text(tree)
        if text:
            return (
                text,
                BY_RULES,
                extract_metadata(tree, default_url=url, date_config=_date_params()),
            )
    # Given a tree, trafilatura cleans a copy of it: `tree` stays as served.
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        date_extraction_params=_date_params(),
    )
    if document is None:
        document = extract_metadata(tree, default_url=url, date_config=_date_params())
    text = (getattr(document, "text", None) or "").strip()
    if len(text) < MIN_TEXT_CHARS and signals.says_article and signals.article_body:
        # The page's own ld+json articleBody: what trafilatura's baseline falls back to.
        return signals.article_body, BY_FALLBACK, document
    return text, BY_TRAFILATURA, document


def _date_params() -> dict[str, Any]:
    """trafilatura's date search, keeping the time of day where the page gives one (its default
    output is the day alone): schedules learn a source's hours from it, analysts read it."""
    from trafilatura.settings import set_date_params

    # trafilatura's latest date is today's midnight, which would cut today's times back to the
    # day; a day ahead also keeps a page whose zone is past midnight already.
    latest = datetime.now() + timedelta(days=1)  # noqa: DTZ005 - htmldate compares naive times
    return {
        **set_date_params(extensive=True),
        "max_date": latest,
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    }


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(value.split()) or None


def parse_date(value: str | None) -> datetime | None:
    """A date as pages write it: ISO 8601 first, else what htmldate (trafilatura's) reads."""
    if not value:
        return None
    try:
        return to_utc(value)
    except (ValueError, OverflowError):
        pass
    from htmldate.extractors import try_date_expr

    found = try_date_expr(value, "%Y-%m-%d", extensive_search=True, min_date=_MIN, max_date=_MAX)
    if not found:
        return None
    try:
        return to_utc(found)
    except (ValueError, OverflowError):
        return None


_MIN = datetime(1995, 1, 1)
_MAX = datetime(2100, 1, 1)


def date_from_url(url: str) -> datetime | None:
    """A date spelled in the URL path, such as /2025/07/25/ or /20250725-."""
    match = URL_DATE.search(url)
    if not match:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


# A page trafilatura takes for an article: its first extraction builds what later ones reuse.
WARM_UP_PAGE = (
    "<html lang='en'><head><title>Warm up</title></head><body><article><h1>Warm up</h1>"
    + "".join(
        f"<p>Paragraph {n} of the warm-up: a first extraction sets up what later ones reuse.</p>"
        for n in range(6)
    )
    + "</article></body></html>"
)


def warm_up() -> None:
    """Ready a process before the first page arrives: imports, trafilatura's first-call set-up,
    MinHash permutations. The fork server runs it once (crawler/pool_warmup.py), so workers
    fork warm; each worker runs it again, cheaply, as the pool starts it."""
    from crawler.language import identifier
    from storage.text import minhash

    with contextlib.suppress(NotAnArticle):  # it is one, but a warm-up never fails on that
        extract_article(WARM_UP_PAGE, "https://warm-up.invalid/", MIN_TEXT_CHARS)
    minhash("warm up")
    identifier()
