"""`newsmon check --live`: each source's discovery and extraction tried for real, nothing kept.

The check is a real crawl (crawler/runner.py: the same spiders, middlewares, politeness,
robots.txt, private-address guard, size limits and extraction) into a scratch SQLite database
that is thrown away, so the user's database never sees it and every link counts as new. Each
source's crawl is cut to its first discovery page and N articles. What it saw is judged by a
list of problem detectors (`DETECTORS`): each turns the evidence into a verdict and a sentence
a person can act on, so a new kind of problem (a script-built page, say) is one more detector.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from crawler.config.models import Config, Source
from crawler.discovery import Discovery
from crawler.extract import MIN_TEXT_CHARS
from crawler.redact import redact_url
from crawler.scriptpages import looks_script_built
from storage.health import ENOUGH_TEXT_CHARS
from storage.runs import RunOutcome
from storage.tables import items, sources

if TYPE_CHECKING:
    from crawler.context import SourceContext

# Verdicts from the worst down: a source's verdict is the worst its detectors found.
VERDICTS = ("error", "blocked", "no_articles", "extraction_incomplete", "ok")
BLOCKING_HTTP = ("http_401", "http_403", "http_407", "http_429", "http_451")
# A listing with fewer article links than this, whose page looks script-built, gets the
# suggestion to render it (`render: browser`).
FEW_LINKS = 3


@dataclass(frozen=True)
class Sample:
    """One article candidate, fetched and extracted as the crawl would store it."""

    url: str
    title: str | None
    published_at: datetime | None
    date_source: str | None
    author: str | None
    text_chars: int
    language: str | None
    # As the crawl stored them (items.extracted_by, items.language_source): which extraction
    # made the text (the source's `extract:` rules, trafilatura, trafilatura+fallback) and
    # where the language came from (the page's declaration or its text).
    extracted_by: str | None = None
    language_source: str | None = None

    def missing(self) -> list[str]:
        """What a complete article has and this one lacks."""
        lacks = [] if self.title else ["title"]
        lacks += [] if self.published_at else ["date"]
        return lacks + ([] if self.text_chars >= ENOUGH_TEXT_CHARS else ["text"])


@dataclass
class Evidence:
    """What the trial crawl of one source saw."""

    source: Source
    outcome: RunOutcome
    samples: list[Sample]
    # Links a listing's `follow` left out, by first path segment (crawler/spiders/listing.py).
    off_pattern: Counter[str] = field(default_factory=Counter)
    # The first discovery response (status, format; its HTML for a listing): None if none came.
    discovery: Discovery | None = None

    @property
    def skips(self) -> dict[str, int]:
        return self.outcome.skip_kinds

    @property
    def errors(self) -> dict[str, int]:
        return self.outcome.error_kinds


@dataclass(frozen=True)
class Finding:
    verdict: str
    problem: str


@dataclass(frozen=True)
class SourceCheck:
    source: str
    mode: str
    url: str  # the discovery URL, redacted
    verdict: str
    discovered: int | None
    matched: int | None
    samples: list[Sample]
    problems: list[str]
    status: int | None = None  # the discovery URL's HTTP status; None when no response came
    format: str | None = None  # what it answered: rss, atom, jsonfeed, urlset, sitemapindex, html

    def row(self) -> dict[str, Any]:
        """The JSON row of `newsmon check --live --format json`."""
        return {
            "source": self.source,
            "mode": self.mode,
            "url": self.url,
            "verdict": self.verdict,
            "discovery": {"status": self.status, "format": self.format},
            "discovered": self.discovered,
            "matched": self.matched,
            "samples": [
                {
                    "url": s.url,
                    "title": s.title,
                    "published_at": s.published_at.isoformat() if s.published_at else None,
                    "date_source": s.date_source,
                    "author": s.author,
                    "text_chars": s.text_chars,
                    "language": s.language,
                    "language_source": s.language_source,
                    "extracted_by": s.extracted_by,
                }
                for s in self.samples
            ],
            "problems": self.problems,
        }


def discovery_failed(evidence: Evidence) -> Finding | None:
    """The discovery URL itself could not be used: refused (blocked) or failed (error)."""
    failure = evidence.outcome.error_text
    if failure is None:
        return None
    url = evidence.source.url
    if "robots" in failure:
        return Finding(
            "blocked",
            f"robots.txt forbids fetching {url}; newsmon obeys it: ask the site, or use a feed"
            " or sitemap it allows",
        )
    blocking = next((kind for kind in BLOCKING_HTTP if kind in failure), None)
    if blocking is not None:
        status = blocking.removeprefix("http_")
        return Finding(
            "blocked",
            f"the site answered HTTP {status} to {url}: it refuses this client (try another"
            " discovery URL, or credentials if it needs them)",
        )
    return Finding("error", f"the discovery URL failed: {failure}")


def no_article_links(evidence: Evidence) -> Finding | None:
    """Discovery worked but listed no article candidates."""
    if evidence.outcome.error_text is not None or evidence.outcome.matched:
        return None
    discovered = evidence.outcome.discovered or 0
    if evidence.source.mode == "listing" and discovered:
        prefix, _ = evidence.off_pattern.most_common(1)[0] if evidence.off_pattern else ("", 0)
        hint = f"; the most common link prefix is {prefix}" if prefix else ""
        return Finding(
            "no_articles",
            f"the follow pattern matched 0 of {discovered} links{hint}",
        )
    what = {"listing": "links on its own site", "feed": "entries", "sitemap": "article URLs"}
    return Finding(
        "no_articles",
        f"the {evidence.source.mode} at {evidence.source.url} has no"
        f" {what.get(evidence.source.mode, 'links')}",
    )


def samples_not_articles(evidence: Evidence) -> Finding | None:
    """The candidates were fetched, but none held an article (section or index pages)."""
    rejected = evidence.skips.get("not_article", 0)
    if not rejected or evidence.samples:
        return None
    return Finding(
        "no_articles",
        f"{rejected} of {rejected} sampled pages are not articles (no text, or under"
        f" {MIN_TEXT_CHARS} characters): discovery lists"
        " section or index pages; point the source at a feed or page that lists articles",
    )


def samples_taken_by_another(evidence: Evidence) -> Finding | None:
    """The candidates were sampled under another checked source that lists them too (one
    scratch database, one copy per URL): nothing here says how this source extracts."""
    shared = evidence.skips.get("known", 0)
    if not shared or evidence.samples:
        return None
    name = evidence.source.name
    return Finding(
        "ok",
        f"its {shared} sampled articles were also listed by another checked source and"
        f" sampled there; to see them under this one: newsmon check --live --source {name}",
    )


def samples_refused(evidence: Evidence) -> Finding | None:
    """Article pages refused by robots.txt or by the site."""
    robots = evidence.skips.get("robots", 0)
    refused = sum(evidence.errors.get(kind, 0) for kind in BLOCKING_HTTP)
    if not (robots or refused) or evidence.samples:
        return None
    why = "robots.txt forbids them" if robots else "the site refuses them (HTTP 401/403/429)"
    return Finding("blocked", f"{robots + refused} article pages could not be fetched: {why}")


def samples_failed(evidence: Evidence) -> Finding | None:
    """Article pages that failed for other reasons (timeouts, 404s, extraction)."""
    kinds = {k: v for k, v in evidence.errors.items() if k not in BLOCKING_HTTP}
    if not kinds or evidence.outcome.error_text is not None:
        return None
    listed = ", ".join(f"{kind} ×{count}" for kind, count in sorted(kinds.items()))
    verdict = "ok" if evidence.samples else "error"
    return Finding(verdict, f"some article pages failed: {listed}")


def samples_incomplete(evidence: Evidence) -> Finding | None:
    """Extracted samples lacking a title, a date or enough text."""
    lacking: Counter[str] = Counter(m for s in evidence.samples for m in s.missing())
    if not lacking:
        return None
    words = {
        "title": "no title",
        "date": "no published date (none in the page, the feed or the URL)",
        "text": f"under {ENOUGH_TEXT_CHARS} characters of text (a cookie wall or teaser?)",
    }
    total = len(evidence.samples)
    parts = [f"{count} of {total} samples have {words[what]}" for what, count in lacking.items()]
    return Finding("extraction_incomplete", "; ".join(parts))


def script_built(evidence: Evidence) -> Finding | None:
    """A listing fetched over HTTP with (next to) no article links, whose page looks built by
    its scripts (crawler/scriptpages.py): a browser would see the links."""
    source, outcome = evidence.source, evidence.outcome
    if source.mode != "listing" or source.renders(discovery=True):
        return None
    if outcome.error_text is not None or (outcome.matched or 0) >= FEW_LINKS:
        return None
    html = evidence.discovery.html if evidence.discovery else None
    if not html:
        return None
    verdict = looks_script_built(html)
    if not verdict.script_built:
        return None
    return Finding(
        "ok" if outcome.matched else "no_articles",
        f"the listing at {source.url} looks built by its scripts ({verdict.reason}): its"
        " links may only appear in a browser; try `render: browser`",
    )


Detector = Callable[[Evidence], Finding | None]
# In order; a source's verdict is the worst of what they find. Add new checks here.
DETECTORS: list[Detector] = [
    discovery_failed,
    no_article_links,
    script_built,
    samples_taken_by_another,
    samples_refused,
    samples_not_articles,
    samples_failed,
    samples_incomplete,
]


# What a routine run's record alone can tell (no samples, no pages kept): source alerts use it.
RUN_DETECTORS: list[Detector] = [discovery_failed, no_article_links, samples_refused]


def run_problems(source: Source, outcome: RunOutcome) -> list[str]:
    """The problems `check --live` would name, judged from one recorded run's outcome."""
    return judge(Evidence(source, outcome, []), RUN_DETECTORS).problems


def judge(evidence: Evidence, detectors: Sequence[Detector] = DETECTORS) -> SourceCheck:
    findings = [f for f in (detect(evidence) for detect in detectors) if f is not None]
    verdict = min((f.verdict for f in findings), key=VERDICTS.index, default="ok")
    return SourceCheck(
        source=evidence.source.name,
        mode=evidence.source.mode,
        url=redact_url(evidence.source.url),
        verdict=verdict,
        discovered=evidence.outcome.discovered,
        matched=evidence.outcome.matched,
        samples=evidence.samples,
        problems=[f.problem for f in findings],
        status=evidence.discovery.status if evidence.discovery else None,
        format=evidence.discovery.format if evidence.discovery else None,
    )


def trial_source(source: Source, samples: int) -> Source:
    """The source cut to one discovery page and `samples` articles."""
    update: dict[str, Any] = {"max_articles": samples, "recheck": None}
    if "pages" in type(source).model_fields:
        update["pages"] = 1
    return source.model_copy(update=update)


def live_check(
    config: Config, chosen: Sequence[Source], samples: int = 3, log_level: str = "WARNING"
) -> list[SourceCheck]:
    """Crawl each source for real into a scratch database, then judge what it found."""
    from crawler.runner import run_crawl
    from storage.db import make_engine, prepare_for_writing

    contexts: dict[str, SourceContext] = {}

    def observe(context: SourceContext) -> None:
        # script_built reads a listing's page; a feed or sitemap (maybe large) is not kept.
        context.keep_discovery_page = context.source.mode == "listing"
        contexts[context.source.name] = context

    with tempfile.TemporaryDirectory(prefix="newsmon-check-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'check.db'}")
        prepare_for_writing(engine)
        trial = [trial_source(source, samples) for source in chosen]
        results = run_crawl(config, trial, engine, log_level, observe=observe)
        found = {name: _samples(engine, name) for name in (s.name for s in chosen)}
        engine.dispose()
    by_name = {source.name: source for source in chosen}
    checks = []
    for result in results:
        context = contexts.get(result.source)  # none when the source could not start
        evidence = Evidence(by_name[result.source], result.outcome, found[result.source])
        if context is not None:
            evidence.off_pattern = context.off_pattern_links
            evidence.discovery = context.discovery
        checks.append(judge(evidence))
    return checks


def _samples(engine: Engine, source: str) -> list[Sample]:
    statement = (
        select(
            items.c.url,
            items.c.title,
            items.c.published_at,
            items.c.date_source,
            items.c.author,
            func.length(items.c.text),
            items.c.language,
            items.c.extracted_by,
            items.c.language_source,
        )
        .join(sources, sources.c.id == items.c.source_id)
        .where(sources.c.name == source)
        .order_by(items.c.id)
    )
    with engine.connect() as connection:
        return [Sample(*row) for row in connection.execute(statement)]
