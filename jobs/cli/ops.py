"""Operating commands: `run` (the daemon), `runs` (the run records) and `status` (source health).

Registered on the main group in jobs/cli/__init__.py. None of them imports Scrapy: the daemon starts
a `newsmon crawl` child process for every run.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from crawler.config.file import find_config_path
from crawler.redact import redact_text
from jobs.cli.state import State, fail, format_option
from jobs.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from jobs.output import printable


@click.command(
    epilog="Example:\n\n\b\n  newsmon run\n  newsmon run --once\n  newsmon run --health-port 8787\n"
    "  newsmon run --dispatch celery   # workers: newsmon worker"
)
@click.option("--once", is_flag=True, help="Run every due source once, then exit.")
@click.option(
    "--dispatch",
    type=click.Choice(["local", "celery"]),
    default="local",
    show_default=True,
    help="local: crawl here; celery: enqueue due sources for `newsmon worker` processes.",
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    metavar="N",
    help="Serve /healthz (JSON) and /metrics on 127.0.0.1:N.",
)
@click.pass_obj
@click.pass_context
def run(
    ctx: click.Context, state: State, once: bool, dispatch: str, health_port: int | None
) -> None:
    """Run the scheduler daemon: crawl each source on its schedule until SIGTERM.

    The daemon polls due sources itself; an unchanged one starts no process, the changed ones
    of a tick go to one child `newsmon crawl --source A --source B …` with a timeout. SIGHUP reloads the
    config (an invalid one is logged and ignored). Exit 0 after SIGTERM/SIGINT; with --once,
    1 when some source failed.
    """
    import asyncio  # here, not at the top: 25 ms of start-up the other commands need not pay

    from jobs.daemon import configure_logging, serve

    config = state.config  # validates, exits 2 when invalid
    path = find_config_path(state.config_path)  # found already: state.config loaded it
    configure_logging(config.daemon.log_format, ctx.find_root().params.get("verbose", 0))
    level = ctx.meta["log_level"]
    dispatcher = None
    if dispatch == "celery":
        from jobs.distributed import DistributedUnavailable, dispatcher_for

        try:
            dispatcher = dispatcher_for(config)
        except DistributedUnavailable as error:
            fail(str(error), EXIT_CONFIG)
    sys.exit(
        asyncio.run(
            serve(
                Path(path),
                once=once,
                health_port=health_port,
                log_level=level,
                dispatcher=dispatcher,
            )
        )
    )


@click.command(
    epilog="Example:\n\n\b\n  newsmon runs\n  newsmon runs --source mofa --limit 5 --format json"
)
@click.option("--source", metavar="NAME", help="Only runs of this source.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@format_option("table", "json", "jsonl")
@click.pass_obj
def runs(state: State, source: str | None, limit: int, fmt: str) -> None:
    """List recorded crawl runs, newest first."""
    from storage.runs import list_runs

    engine = state.engine()
    rows = (
        [_run_row(run) for run in list_runs(engine, source, limit)] if _has_schema(engine) else []
    )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    else:
        _table(
            rows,
            ["id", "source", "started_at", "duration_s", "status", "pages", "new_items",
             "flagged", "errors", "detail"],
        )  # fmt: skip


def _run_row(run: Any) -> dict[str, Any]:
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    kinds = " ".join(f"{k}={v}" for k, v in sorted((run.error_kinds or {}).items()))
    error_text = redact_text(run.error_text) if run.error_text else None  # rows from before 14
    return {
        "id": run.id,
        "source": run.source.name,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": round(duration, 1) if duration is not None else None,
        "status": run.status,
        "pages": run.pages,
        "new_items": run.new_items,
        "flagged": run.flagged,
        "skipped": run.skipped,
        "errors": run.errors,
        "error_kinds": run.error_kinds or {},
        "error_text": error_text,
        "detail": " ".join(filter(None, [kinds, error_text or ""]))[:80],
    }


@click.command(epilog="Example:\n\n\b\n  newsmon status\n  newsmon status || notify-ops")
@format_option("table", "json")
@click.pass_obj
def status(state: State, fmt: str) -> None:
    """One row per enabled source: last success and failure, failures in a row, new items
    in 24 h and 7 days, whether its last walk caught up, and a verdict.

    A source still catching up (its last walk was cut short: killed, max_articles, errors)
    is walked in full again by the next run. Exit 0 when every source is healthy, 1
    otherwise (for monitoring).
    """
    from jobs.schedule import interval_of, next_due
    from storage import walks
    from storage.cadence import load_states
    from storage.clock import utcnow
    from storage.health import SourceHealth, source_health, verdict

    config, now = state.config, utcnow()
    sources = [source for source in config.sources if source.enabled]
    rows, healthy_all = [], True
    engine, names = state.engine(), [source.name for source in sources]
    # An empty database (nothing crawled yet) reports every source as never run.
    schema = _has_schema(engine)
    found = source_health(engine, names if schema else [], now)
    known = {facts.source: facts for facts in found}
    catching_up = walks.catching_up(engine, [(s.name, s.url) for s in sources]) if schema else {}
    backfills = walks.unfinished_backfills(engine, names) if schema else {}
    cadences = load_states(engine, names) if schema else {}
    for source in sources:
        facts = known.get(source.name) or SourceHealth.never_run(source.name)
        schedule = config.schedule_for(source)
        overdue_after, cadence = None, cadences.get(source.name)
        next_poll = now
        if facts.last_started is not None:
            next_poll = next_due(schedule, facts.last_started, now, cadence)
            margin = interval_of(schedule, next_poll, cadence) + config.daemon.run_timeout
            overdue_after = next_poll + timedelta(seconds=margin)
        healthy, why = verdict(
            facts,
            max_failures=config.daemon.max_consecutive_failures,
            expect_new_within=source.expect_new_within,
            overdue_after=overdue_after,
            now=now,
        )
        healthy_all &= healthy
        behind, backfill = catching_up.get(source.name), backfills.get(source.name)
        rows.append(
            {
                "source": source.name,
                "healthy": healthy,
                "last_success": _iso(facts.last_success),
                "last_failure": _iso(facts.last_failure),
                "consecutive_failures": facts.consecutive_failures,
                "new_24h": facts.new_24h,
                "new_7d": facts.new_7d,
                "walk": _walk_summary(facts.runs, behind, backfill),
                "caught_up": facts.runs > 0 and behind is None,
                "catching_up_since": _iso(behind.since) if behind else None,
                "backfill_steps_done": backfill.steps_done if backfill else None,
                "interval": _duration(interval_of(schedule, next_poll, cadence)),
                "interval_s": interval_of(schedule, next_poll, cadence),
                "set_by": _set_by(schedule, cadence),
                "next_poll": _iso(next_poll),
                "conditional": source.conditional is not False
                and (cadence is None or cadence.conditional),
                "conditional_note": cadence.conditional_note if cadence else None,
                "verdict": why,
                "last_error": redact_text(facts.last_error) if facts.last_error else None,
            }
        )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        _table(
            rows,
            ["source", "last_success", "last_failure", "consecutive_failures", "new_24h",
             "new_7d", "walk", "interval", "set_by", "next_poll", "verdict"],
            headers={"consecutive_failures": "fails"},
        )  # fmt: skip
    sys.exit(EXIT_OK if healthy_all else EXIT_FAILED)


def _set_by(schedule: Any, cadence: Any) -> str:
    """What set the interval: fixed (every/cron), or the adaptive estimator's reason."""
    if schedule.adaptive is None:
        return "fixed"
    reason = cadence.reason if cadence else "new"
    return reason if cadence is None or cadence.conditional else f"{reason}; unconditional"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size < size / 60:
            return f"{round(seconds / size)}{unit}"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


def _walk_summary(runs: int, behind: Any, backfill: Any) -> str | None:
    """'caught up', or 'catching up (done/walked URLs)', plus an unfinished backfill."""
    if runs == 0:
        return None
    text = f"catching up ({behind.done}/{behind.walked})" if behind else "caught up"
    return f"{text}; backfill at step {backfill.steps_done}" if backfill else text


def _has_schema(engine: Any) -> bool:
    from storage.db import current_revision

    return current_revision(engine) is not None


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else None


def _table(
    rows: list[dict[str, Any]], columns: list[str], headers: dict[str, str] | None = None
) -> None:
    titles = [(headers or {}).get(column, column) for column in columns]
    cells = [["-" if row[c] is None else printable(str(row[c])) for c in columns] for row in rows]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, t in enumerate(titles)]
    for line in [titles, *cells]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
