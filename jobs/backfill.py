"""`newsmon backfill`: walk a listing or a sitemap deeper than routine runs do, in steps.

A step is a listing page with its articles, or a child sitemap with its articles. Each step
is saved as it is done (storage/walks.py), so a killed or stopped backfill continues where it
stopped; progress is a bar on a terminal and a line per step otherwise. It walks politely
(the source's delay and concurrency) and holds the source's lock meanwhile.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from sqlalchemy import Engine

from crawler.config.models import Config, Source
from crawler.redact import redact_url
from crawler.walks import Backfill, BackfillStep, crawl_target
from jobs.crawl import print_results, select_sources
from jobs.exits import EXIT_CONFIG, EXIT_LOCKED
from jobs.output import printable
from jobs.when import parse_when
from storage import crawlstate, runs, walks

BAR_WIDTH = 30


def backfill_source(
    config: Config,
    name: str,
    engine: Engine,
    *,
    pages: int | None,
    since: str | None,
    restart: bool,
    log_level: str = "WARNING",
) -> int:
    """Run (or resume) the backfill of source `name`; the exit code, as for `crawl`."""
    try:
        [source] = select_sources(config, [name])
    except KeyError as error:
        print(f"newsmon: {error.args[0]}", file=sys.stderr)
        return EXIT_CONFIG
    if source.mode == "feed":
        print(
            f"newsmon: source {name} is a feed, which lists only its latest entries: there is"
            " nothing deeper to walk (backfill walks listing and sitemap sources)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    from jobs.locks import locks_for

    locks = locks_for(engine)
    if not locks.acquire(name):
        print(f"newsmon: source {name} is being crawled by another process", file=sys.stderr)
        return EXIT_LOCKED
    progress = ProgressReport(sys.stderr)
    try:
        runs.interrupt_stale_runs(engine, [name])
        source_id = crawlstate.ensure_source(engine, name, source.mode, source.url)
        backfill = plan(engine, source, source_id, pages, since, restart)
        backfill.report = progress
        if source.mode == "listing":
            # It stores articles of the pages routine runs walk, out of their order: the next
            # routine run must walk the listing in full before trusting a known page again.
            walking = walks.Progress(walking=[(source.url, None)])
            walks.record(engine, source_id, walks.CRAWL, crawl_target(source), walking)
        from crawler.runner import run_crawl

        started = time.monotonic()
        results = run_crawl(config, [source], engine, log_level, backfill=backfill)
    finally:
        progress.close()
        locks.release_all()
    code = print_results(results, started)
    state = walks.backfill_of(engine, source_id)
    if state is not None and state.finished_at is not None:
        print(f"backfill of {name} finished", file=sys.stderr)
    else:
        print(
            f"backfill of {name} not finished: run `newsmon backfill --source {name}` again"
            " to continue where it stopped",
            file=sys.stderr,
        )
    return code


def plan(
    engine: Engine,
    source: Source,
    source_id: int,
    pages: int | None,
    since: str | None,
    restart: bool,
) -> Backfill:
    """Resume the source's unfinished backfill if it asked for the same (or nothing was
    asked now), else start a new one."""
    previous = walks.backfill_of(engine, source_id)
    unfinished = previous if previous is not None and previous.finished_at is None else None
    asked = pages is not None or since is not None
    if unfinished is not None and not restart:
        if not asked or (pages, since) == (unfinished.pages, unfinished.since):
            where = f" at page {unfinished.resume_page}" if unfinished.resume_page else ""
            print(
                f"resuming the backfill of {source.name}{where}"
                f" ({unfinished.steps_done} steps done)",
                file=sys.stderr,
            )
            return Backfill(
                pages=unfinished.pages,
                since=parse_when(unfinished.since),
                since_text=unfinished.since,
                resume_url=unfinished.resume_url,
                resume_page=unfinished.resume_page,
            )
        print(
            f"the unfinished backfill of {source.name} asked for other limits; starting anew",
            file=sys.stderr,
        )
    backfill = Backfill(pages=pages, since=parse_when(since), since_text=since)
    walks.start_backfill(engine, source_id, backfill.target(source), pages, since)
    return backfill


def shown(url: str) -> str:
    return printable(redact_url(url))


class ProgressReport:
    """A bar redrawn in place on a terminal; a line per step otherwise (logs, cron mail)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.drawn = False

    def __call__(self, step: BackfillStep) -> None:
        of = f"/{step.total}" if step.total else ""
        if not self.tty:
            state = "done" if step.ok else "incomplete (resumed next time)"
            print(
                f"backfill {step.source}: step {step.done}{of} {state}: {shown(step.url)}"
                f" ({step.new_items} new so far)",
                file=self.stream,
                flush=True,
            )
            return
        if step.total:
            filled = min(BAR_WIDTH, BAR_WIDTH * step.done // step.total)
            bar = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
        else:
            bar = ""
        self.stream.write(f"\r{step.source} {bar}{step.done}{of} steps, {step.new_items} new  ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
