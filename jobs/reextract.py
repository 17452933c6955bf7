"""`newsmon reextract`: extract the archived pages again, after an extraction rule or a
trafilatura upgrade changed, and keep each real text change as a version of its item.

Each page is read from the archive (storage/archive.py), decoded and extracted exactly as the
crawl does it (crawler/charset.py, crawler/extract.py, crawler/worker.py article_record),
and stored the way a re-check stores a corrected article (storage/incremental.py
store_version): the old text becomes a version, the new one the item's text, its keyword
matches those of the current rules. A version is one transaction, so a killed run loses
nothing and a second run finds nothing left to change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from crawler.charset import decode_html
from crawler.config.models import Config, Source
from crawler.extract import Extracted, NotAnArticle, extract_article
from crawler.incremental import reindex_item
from crawler.items import FetchedPage
from crawler.keywords import Matcher
from crawler.worker import article_record
from storage.archive import StoredPage, iter_pages
from storage.deliveries import AlertRoute, owed_rows
from storage.filters import ItemQuery
from storage.incremental import store_version
from storage.queries import ArticleRecord, MatchRecord

log = logging.getLogger(__name__)

BATCH = 100


@dataclass
class ReextractReport:
    pages: int = 0  # archived pages read
    changed: int = 0  # items whose text changed: a new version each
    unchanged: int = 0
    not_article: int = 0  # no longer an article: the item is left as it was
    failed: int = 0  # the page could not be read or extracted
    newly_flagged: int = 0  # (item, rule) pairs first matched in a new version
    alerts_owed: int = 0  # of those, handed to alerts (--alert)
    last_item_id: int = 0  # the last item done: `--after` resumes past it


Progress = Callable[[ReextractReport], None]


def extract_again(source: Source | None, html: str, url: str) -> Extracted:
    """The crawl's own extraction of a page of `source` (None: a source no longer configured).
    Re-extraction calls it only through here, so per-source extraction rules apply here too."""
    rules = source.extract.rules() if source is not None and source.extract is not None else None
    # The page was stored as an article once: judge it as a listed entry, so that page signals
    # alone do not turn a stored item into a non-article.
    return extract_article(html, url, rules=rules, listed=True)


def reextracted(stored: StoredPage, source: Source | None) -> ArticleRecord:
    """The article the crawl would make of this archived page today."""
    page = stored.page
    content_type = page.header("Content-Type") or "text/html"
    html, _encoding = decode_html(page.unpacked(), content_type)
    extracted = extract_again(source, html, page.url)
    return article_record(FetchedPage(source=stored.source, url=page.url, html=html), extracted)


def reextract(
    config: Config,
    engine: Engine,
    source: str | None = None,
    since: datetime | None = None,
    alert: bool = False,
    after: int = 0,
    batch_size: int = BATCH,
    progress: Progress | None = None,
) -> ReextractReport:
    """Extract every archived page (of `source`, of items dated since `since`, past item id
    `after`) again; store real text changes as versions, matched by the current keyword rules.

    Alerts are owed for (item, rule) pairs new in a version only when `alert` is set, as in
    `newsmon reflag`. Items whose text did not change keep their matches (reflag re-applies
    rules to every item).
    """
    sources = {configured.name: configured for configured in config.sources}
    matcher = Matcher.from_rules(config.keywords)
    routes = (
        [AlertRoute(a.name, frozenset(a.keywords) or None) for a in config.item_alerts()]
        if alert
        else []
    )
    report = ReextractReport(last_item_id=after)
    query = ItemQuery(source=source, since=since)
    for batch in iter_pages(engine, query, batch_size, after=after):
        for stored in batch:
            _one(stored, sources.get(stored.source), matcher, engine, routes, report)
            report.last_item_id = stored.item_id
        if progress is not None:
            progress(report)
    return report


def _one(
    stored: StoredPage,
    source: Source | None,
    matcher: Matcher,
    engine: Engine,
    routes: list[AlertRoute],
    report: ReextractReport,
) -> None:
    report.pages += 1
    try:
        record = reextracted(stored, source)
    except NotAnArticle:
        report.not_article += 1
        return
    except Exception as error:  # noqa: BLE001 - one page that breaks the extractor fails alone
        report.failed += 1
        log.warning("reextract: item %d (%s) failed: %r", stored.item_id, stored.page.url, error)
        return
    matches = [
        MatchRecord(m.keyword, m.field, m.start, m.end, m.snippet)
        for m in matcher.match(record.title or "", record.text, source=stored.source)
    ]
    changed = store_version(
        engine,
        stored.item_id,
        text=record.text,
        title=record.title,
        content_hash=record.content_hash,
        matches=matches,
        fetched_at=stored.page.fetched_at,  # when the page this text comes from was fetched
        reindex=reindex_item,
        alerts=routes,
    )
    if changed is None:
        report.unchanged += 1
        return
    report.changed += 1
    report.newly_flagged += len(changed.new_keywords)
    pairs = [(stored.item_id, keyword) for keyword in changed.new_keywords]
    report.alerts_owed += len(owed_rows(routes, pairs))
    log.info("reextract: item %d changed: version %d", stored.item_id, changed.version)
