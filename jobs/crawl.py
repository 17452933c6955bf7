"""The one-shot crawl behind `newsmon crawl`: what cron runs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crawler.config.models import Config, Source
from jobs.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from storage import crawlstate, runs
from storage.runs import RunOutcome, SourceResult

if TYPE_CHECKING:
    from crawler.probe import Probe

# Set by the daemon for its crawl children: it plans their next polls itself (jobs/poller.py),
# from the poll and the child's runs together.
CADENCE_BY_PARENT_ENV = "NEWSMON_CADENCE_BY_PARENT"


def select_sources(config: Config, names: Sequence[str]) -> list[Source]:
    """The named sources, or every enabled one; an unknown name is a config error."""
    if not names:
        return [source for source in config.sources if source.enabled]
    known = {source.name: source for source in config.sources}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown source {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    return [known[name] for name in dict.fromkeys(names)]


def due_sources(config: Config, sources: Sequence[Source], engine: Engine) -> list[Source]:
    """The sources whose schedule says they are due, measured from their last recorded run."""
    from jobs.schedule import is_due
    from storage.cadence import load_states
    from storage.clock import utcnow

    last, now = runs.last_started(engine), utcnow()
    states = load_states(engine, [s.name for s in sources])
    return [
        s
        for s in sources
        if is_due(config.schedule_for(s), last.get(s.name), now, states.get(s.name))
    ]


def crawl_once(
    config: Config,
    names: Sequence[str],
    engine: Engine,
    log_level: str = "WARNING",
    due: bool = False,
) -> int:
    """Crawl, print one summary line per source, and return the exit code."""
    try:
        sources = select_sources(config, names)
    except KeyError as error:
        print(f"newsmon: {error.args[0]}", file=sys.stderr)
        return EXIT_CONFIG
    if not sources:
        print("newsmon: no enabled sources to crawl", file=sys.stderr)
        return EXIT_CONFIG
    if due:
        sources = due_sources(config, sources, engine)
        if not sources:
            print("newsmon: no source is due", file=sys.stderr)
            return EXIT_OK
    from jobs.locks import locks_for

    locks = locks_for(engine)
    try:
        locked = [source for source in sources if not locks.acquire(source.name)]
        for source in locked:
            print(
                f"newsmon: source {source.name} is being crawled by another process; skipped",
                file=sys.stderr,
            )
        refused = {source.name for source in locked}
        sources = [source for source in sources if source.name not in refused]
        if not sources:
            return EXIT_LOCKED
        runs.interrupt_stale_runs(engine, [source.name for source in sources])
        code = _crawl_and_report(config, sources, engine, log_level)
    finally:
        locks.release_all()
    watch_sources(config, engine, [source.name for source in sources])
    deliver_alerts(config, engine)  # after storing, outside the locks; never changes the code
    return EXIT_LOCKED if code == EXIT_OK and locked else code


def deliver_alerts(config: Config, engine: Engine) -> None:
    """Send the alerts now due (issue 5); a summary line on stderr when anything happened."""
    if not config.alerts:
        return
    from jobs.alerts import deliver_after_crawl

    report = deliver_after_crawl(config, engine)
    if report is not None and (report.sent or report.failed):
        print(
            f"alerts: {report.messages} messages, {report.sent} sent, {report.failed} failed"
            + (" (retried later; see `newsmon alerts`)" if report.failed else ""),
            file=sys.stderr,
        )


def watch_sources(config: Config, engine: Engine, names: Sequence[str]) -> None:
    """Source alerts (issue 17): judge the crawled sources, announce changes of condition."""
    from jobs.source_alerts import deliver_source_alerts, note_source_health, routes

    if not routes(config):
        return
    try:
        note_source_health(config, engine, names)
        report = deliver_source_alerts(config, engine)
    except Exception:  # noqa: BLE001 - health alerts must never fail the crawl
        import logging

        logging.getLogger(__name__).exception("source alerts failed; retried on the next run")
        return
    if report.sent or report.failed:
        print(f"source alerts: {report.sent} sent, {report.failed} failed", file=sys.stderr)


def record_unchanged(engine: Engine, sources: Sequence[Source]) -> dict[str, SourceResult]:
    """The runs of sources whose discovery page a probe found unchanged: nothing to do."""
    if not sources:
        return {}
    source_ids = crawlstate.ensure_sources(
        engine, [(source.name, source.mode, source.url) for source in sources]
    )
    # What the crawl records for an unchanged first discovery page (crawler/conditional.py).
    outcome = RunOutcome("ok", skipped=1, skip_kinds={"unchanged": 1})
    run_ids = runs.record_runs(engine, source_ids, outcome, pid=os.getpid())
    return {name: SourceResult(name, run_id, outcome) for name, run_id in run_ids.items()}


def _crawl_and_report(
    config: Config, sources: Sequence[Source], engine: Engine, log_level: str
) -> int:
    from crawler.probe import HANDOVER_ENV, probe_sources, read_handover

    started = time.monotonic()
    # A daemon's child: the daemon polled these sources already and hands over what it got.
    handover = os.environ.get(HANDOVER_ENV)
    polled = read_handover(Path(handover)) if handover else {}
    to_probe = [s for s in sources if s.name not in polled]
    unconditional: set[str] = set()
    if not os.environ.get(CADENCE_BY_PARENT_ENV):  # else the daemon decided when it polled
        from jobs.poller import unconditional_names
        from storage.clock import utcnow

        unconditional = unconditional_names(config, engine, to_probe, utcnow())
    probes = probe_sources(config, to_probe, engine, unconditional)
    by_name = record_unchanged(
        engine, [s for s in sources if s.name in probes and probes[s.name].unchanged]
    )
    to_crawl = [source for source in sources if source.name not in by_name]
    if to_crawl:
        # Imported only now: Scrapy's start-up is most of what a run with nothing new costs.
        from crawler.runner import run_crawl

        fetched = {**{name: probe.fetched for name, probe in probes.items()}, **polled}
        for result in run_crawl(config, to_crawl, engine, log_level, fetched):
            by_name[result.source] = result
    results = [by_name[source.name] for source in sources]
    if not os.environ.get(CADENCE_BY_PARENT_ENV):
        plan_next_polls(config, engine, sources, results, probes)
    return print_results(results, started)


def plan_next_polls(
    config: Config,
    engine: Engine,
    sources: Sequence[Source],
    results: Sequence[SourceResult],
    probes: Mapping[str, Probe],
) -> None:
    """Store each source's next poll (jobs/cadence.py) from what its probe and run saw, as
    the daemon does (jobs/poller.py): hints, entries, an unconditional answer that lied."""
    from jobs.poller import poll_of
    from jobs.schedule import record_polls
    from storage.clock import utcnow

    now, observed = utcnow(), []
    for source, result in zip(sources, results, strict=True):
        poll = poll_of(config, source, probes.get(source.name), now)
        if poll.unchanged:
            observation = poll.observation(now)
        else:
            observation = poll.observation(now, result.outcome.status, result.outcome.new_items)
        observed.append((source, observation))
    record_polls(config, engine, observed)


def print_results(results: Sequence[SourceResult], started: float) -> int:
    """Print a summary line per source and any failure; the exit code they make."""
    width = max(len(result.source) for result in results)
    for result in results:
        o = result.outcome
        print(
            f"{result.source:<{width}}  {o.status:<7}  pages={o.pages} new={o.new_items} "
            f"flagged={o.flagged} errors={o.errors} skipped={o.skipped}"
            + (f" [{runs.by_kind(o.skip_kinds)}]" if o.skip_kinds else "")
            + (f"  [{runs.by_kind(o.error_kinds)}]" if o.error_kinds else "")
        )
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    failed = [result for result in results if result.outcome.status == "failed"]
    for result in failed:
        print(
            f"newsmon: source {result.source} failed: {result.outcome.error_text}", file=sys.stderr
        )
    return EXIT_FAILED if failed else EXIT_OK
