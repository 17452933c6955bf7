"""What an extraction worker makes of one fetched page: the article record, signed and flagged.

Runs in the pool's worker processes (crawler/pool.py), so the crawl process only fetches and
stores: trafilatura, the MinHash signature, the record's clean fields and the keyword matches
all cost worker time, on both cores. Each worker receives the run's keyword rules once, when it
starts (`install_rules`), never with every page.
"""

from __future__ import annotations

import hashlib
import pickle
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from crawler.extract import Extracted, date_from_url, extract_article
from crawler.items import FetchedPage, Hints
from crawler.keywords import Matcher
from crawler.siterules import SiteRules
from crawler.urls import InvalidURL, canonicalize, url_key
from storage.records import ArticleRecord, MatchRecord
from storage.text import storable, storable_or_none

# extract_article's shape: (html, url, *, rules, listed); tests pass their own.
Extractor = Callable[..., Extracted]

# The rules this worker flags with, as (key, matcher): set by install_rules.
_rules: tuple[str, Matcher] | None = None


@dataclass(frozen=True)
class PackedRules:
    """A run's keyword rules as the pool hands them to each worker it starts."""

    key: str  # tells a page which rules it must be flagged with
    data: bytes

    @classmethod
    def of(cls, matcher: Matcher) -> PackedRules:
        """Pack `matcher` under a fresh key. Not a digest of the pickle: two pickles of one
        matcher differ (its Aho-Corasick automaton's), so a digest would tell one set of rules
        from itself and restart the pool with pages in it (crawler/pool.py packs once)."""
        return cls(secrets.token_hex(8), pickle.dumps(matcher, protocol=pickle.HIGHEST_PROTOCOL))


def use_rules(key: str, matcher: Matcher) -> None:
    """Flag with `matcher` under `key`: extraction in the crawl process itself (crawler/pool.py)."""
    global _rules
    _rules = (key, matcher)


def install_rules(rules: PackedRules) -> None:
    global _rules
    _rules = (rules.key, pickle.loads(rules.data))  # noqa: S301 - pickled by the crawl process


@dataclass(frozen=True)
class Processed:
    record: ArticleRecord  # matches attached
    regex_timeouts: tuple[str, ...] = ()  # rules whose regex ran past its time limit


def process_page(
    page: FetchedPage,
    rules_key: str,
    extract: Extractor = extract_article,
    site_rules: SiteRules | None = None,
) -> Processed:
    """Extract, sign and flag one page (raises NotAnArticle when it holds none); `site_rules`
    are the source's own extraction rules."""
    if _rules is None or _rules[0] != rules_key:
        raise RuntimeError("this extraction worker holds other keyword rules than the page's")
    listed = page.hints != Hints()  # a feed or sitemap described it as an entry
    extracted = extract(page.html, page.url, rules=site_rules, listed=listed)
    record = article_record(page, extracted)
    return Processed(record, flag(record, page.source, _rules[1]))


def flag(record: ArticleRecord, source: str, matcher: Matcher) -> tuple[str, ...]:
    """Attach the matches of `matcher`'s rules to `record`; returns the rules whose regex ran
    past its time limit (crawler/userregex.py)."""
    timeouts: list[str] = []
    matches = matcher.match(
        record.title or "", record.text, source=source, on_timeout=timeouts.append
    )
    record.matches = [MatchRecord(m.keyword, m.field, m.start, m.end, m.snippet) for m in matches]
    return tuple(timeouts)


def article_record(page: FetchedPage, extracted: Extracted) -> ArticleRecord:
    """Merge extraction with discovery hints; hints fill what the page did not say.

    Every text is made storable here (storage/text.py), whether it came from the page or
    from a feed or listing: the database never sees a lone surrogate or a NUL.
    """
    published, date_source = extracted.published, "page"
    if published is None and page.hints.published is not None:
        published, date_source = page.hints.published, "feed"
    if published is None:
        published, date_source = date_from_url(page.url), "url"
    text = storable(extracted.text)
    return ArticleRecord(
        url=page.url,
        url_key=url_key(page.url),
        text=text,
        content_hash=content_hash(text),
        title=storable_or_none(extracted.title or page.hints.title),
        author=storable_or_none(extracted.author or page.hints.author),
        published_at=published,
        date_source=date_source if published else None,
        canonical_url=storable_or_none(_declared_canonical(extracted.canonical_url, page.url)),
        language=storable_or_none(extracted.language),
        language_source=extracted.language_source if extracted.language else None,
        site_name=storable_or_none(extracted.site_name),
        signature=extracted.signature or None,
        extracted_by=extracted.extracted_by,
        accessible_for_free=extracted.accessible_for_free,
    )


def _declared_canonical(declared: str | None, url: str) -> str | None:
    """The page's own rel=canonical, canonicalised; kept as metadata, never as identity."""
    if not declared or declared == url:
        return declared
    try:
        return canonicalize(declared, base=url)
    except InvalidURL:
        return None


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()
