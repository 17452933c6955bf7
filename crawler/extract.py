"""Article extraction with trafilatura. Runs inside worker processes, so it stays import-safe."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.clock import to_utc

MIN_TEXT_CHARS = 250
HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)
URL_DATE = re.compile(r"/((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|\b)")


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


class NotAnArticle(Exception):
    """The page parsed, but holds no article (empty, a login wall, a list of links)."""


def extract_article(html: str, url: str, min_chars: int = MIN_TEXT_CHARS) -> Extracted:
    """Clean text and metadata of one page; raises NotAnArticle when there is none."""
    import trafilatura
    from trafilatura.settings import Document

    from storage.text import minhash, to_bytes

    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # Precision over recall: tag and section pages must not pass as articles.
        favor_precision=True,
        deduplicate=False,
    )
    text = (document.text or "").strip() if isinstance(document, Document) else ""
    if len(text) < min_chars or not isinstance(document, Document):
        raise NotAnArticle(f"{len(text)} characters of text")
    return Extracted(
        text=text,
        title=_clean(document.title),
        author=_clean(document.author),
        published=parse_date(document.date),
        language=detect_language(html),
        canonical_url=_clean(document.url),
        site_name=_clean(document.sitename),
        signature=to_bytes(minhash(text)),
    )


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(value.split()) or None


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return to_utc(value)
    except (ValueError, OverflowError):
        return None


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


def detect_language(html: str) -> str | None:
    """The page's declared language (`<html lang>`), which news sites nearly always set."""
    match = HTML_LANG.search(html[:5000])
    return match.group(1).lower() if match else None


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
    from storage.text import minhash

    with contextlib.suppress(NotAnArticle):  # it is one, but a warm-up never fails on that
        extract_article(WARM_UP_PAGE, "https://warm-up.invalid/", MIN_TEXT_CHARS)
    minhash("warm up")
