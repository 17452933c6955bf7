"""One crawl pass: every given source as its own Scrapy crawler, all in one reactor run.

A Twisted reactor cannot be restarted, so `run_crawl` runs once per process; the daemon and
the tests start a fresh process (`newsmon crawl`) for each pass.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Mapping, Sequence

# Imported here, not by the first crawler: Scrapy's deprecated TLS classes inspect the whole
# call stack when defined, and deep inside the reactor that costs ~0.1 s.
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import Crawler, CrawlerProcess
from sqlalchemy import Engine

from crawler.config.models import Config, Source
from crawler.config.modes import MODES
from crawler.context import SourceContext
from crawler.keywords import Matcher
from crawler.pool import shutdown_pool
from crawler.probe import Fetched
from crawler.redact import redact_text
from crawler.render import browser_missing
from crawler.settings import process_settings, source_settings
from crawler.walks import Backfill
from storage import crawlstate, runs
from storage.runs import RunOutcome, SourceResult

log = logging.getLogger(__name__)


def run_crawl(
    config: Config,
    sources: Sequence[Source],
    engine: Engine,
    log_level: str = "WARNING",
    prefetched: Mapping[str, Mapping[str, Fetched]] | None = None,
    backfill: Backfill | None = None,
    observe: Callable[[SourceContext], None] | None = None,
) -> list[SourceResult]:
    """Crawl `sources` once, store and flag what is new, record one run per source.

    `prefetched` holds, by source name, the responses the probe already received by URL;
    `backfill`, for a single source, makes this a backfill (`newsmon backfill`); `observe`
    is handed each source's context before its crawl starts (`check --live` flags what to
    keep, and reads the context once this returns).
    """
    matcher = Matcher.from_rules(config.keywords)
    process = CrawlerProcess(process_settings(config, sources, log_level))
    # Scrapy leaves its loggers at DEBUG; records below our level would be built, then dropped.
    for name in ("scrapy", "twisted", "crawler"):
        logging.getLogger(name).setLevel(log_level)
    if log_level == "WARNING":
        # A failed robots.txt fetch is logged with a full traceback; the source's own failure
        # line says the same in one line.
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel("CRITICAL")
    started: list[tuple[Crawler, SourceContext]] = []
    results = []
    for source in sources:
        source_id = crawlstate.ensure_source(engine, source.name, source.mode, source.url)
        run_id = runs.start_run(engine, source_id, pid=os.getpid())
        unable = browser_missing() if source.render.renders_anything else None
        if unable:
            # Only this source fails: the others crawl as usual.
            outcome = RunOutcome(status="failed", error_text=unable)
            runs.finish_run(engine, run_id, outcome)
            results.append(SourceResult(source.name, run_id, outcome))
            log.error("%s: %s", source.name, unable)
            continue
        context = SourceContext(
            config, source, engine, matcher, source_id, run_id, backfill=backfill
        )
        context.prefetched.update((prefetched or {}).get(source.name, {}))
        if observe is not None:
            observe(context)
        # A subclass per source carries that source's politeness as Scrapy spider settings.
        spider_class = type(
            f"{source.mode.title()}Spider[{source.name}]",
            (MODES[source.mode].spider_class(),),
            {"custom_settings": source_settings(config, source)},
        )
        crawler = process.create_crawler(spider_class)
        process.crawl(crawler, context=context)
        started.append((crawler, context))
    # Start-up left ~100k long-lived objects (modules, classes, schemas). Freezing them keeps
    # every later collection, and the one at exit, from walking them again: ~0.3 s per crawl.
    # Safe because this runs once per process (the reactor cannot restart). `newsmon crawl`
    # has collection off until here.
    gc.freeze()
    gc.enable()
    try:
        process.start()
    finally:
        shutdown_pool()
    for crawler, context in started:
        outcome = outcome_of(crawler, context.failure)
        runs.finish_run(engine, context.run_id, outcome)
        results.append(SourceResult(context.source.name, context.run_id, outcome))
    return results


def outcome_of(crawler: Crawler, failure: str | None = None) -> RunOutcome:
    """Turn a finished crawler's stats, and why its source's run failed (its context's
    `failure`), into the run record."""
    stats = crawler.stats.get_stats() if crawler.stats else {}
    counts = {
        key[len("newsmon/") :]: value for key, value in stats.items() if key.startswith("newsmon/")
    }
    error_kinds = {
        key[len("errors/") :]: value for key, value in counts.items() if key.startswith("errors/")
    }
    for key, value in stats.items():
        if key.startswith("spider_exceptions/"):
            error_kinds["spider_exception"] = error_kinds.get("spider_exception", 0) + value
    finish_reason = stats.get("finish_reason", "finished")
    reason = failure
    if reason is None and finish_reason != "finished":
        reason = f"crawl ended early: {finish_reason}"
    skip_kinds = {  # a kind counted zero times (a store batch with nothing known) is not shown
        key[len("skipped/") :]: value
        for key, value in counts.items()
        if key.startswith("skipped/") and value
    }
    errors = sum(error_kinds.values())
    status = "failed" if reason else ("partial" if errors else "ok")
    if finish_reason == "shutdown" and not failure:
        status = "interrupted"  # stopped by SIGTERM/SIGINT: not the source's fault, not a failure
    return RunOutcome(
        status=status,
        pages=counts.get("pages", 0),
        new_items=counts.get("new_items", 0),
        flagged=counts.get("flagged", 0),
        skipped=sum(skip_kinds.values()),
        errors=errors,
        error_kinds=error_kinds,
        error_text=redact_text(reason) if reason else None,
        skip_kinds=skip_kinds,
        discovered=counts.get("discovered"),
        matched=counts.get("matched"),
    )
