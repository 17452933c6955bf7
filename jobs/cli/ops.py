"""Operating commands: `run` (the daemon), `runs` (the run records) and `status` (source health).

Registered on the main group in jobs/cli/__init__.py. None of them imports Scrapy: the daemon starts
a `newsmon crawl` child process for every run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crawler.config.file import find_config_path
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
    help="local: crawl here; celery: enqueue due sources, batched by host, for `newsmon worker`s.",
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
    from jobs.sources import run_row
    from storage.runs import by_kind, list_runs

    engine = state.engine()
    rows = [run_row(run) for run in list_runs(engine, source, limit)] if _has_schema(engine) else []
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    else:
        for row in rows:  # the table shows skips by reason next to their total
            if row["skip_kinds"]:
                row["skipped"] = f"{row['skipped']} [{by_kind(row['skip_kinds'])}]"
        _table(
            rows,
            ["id", "source", "started_at", "duration_s", "status", "pages", "new_items",
             "flagged", "errors", "skipped", "detail"],
        )  # fmt: skip


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
    from jobs.sources import duration, iso, source_rows

    engine = state.engine()
    found = source_rows(state.config, engine, schema=_has_schema(engine))
    healthy_all = all(row.healthy for row in found)
    rows = [
        {
            "source": row.name,
            "healthy": row.healthy,
            "last_success": iso(row.facts.last_success),
            "last_failure": iso(row.facts.last_failure),
            "consecutive_failures": row.facts.consecutive_failures,
            "new_24h": row.facts.new_24h,
            "new_7d": row.facts.new_7d,
            "walk": row.walk,
            "caught_up": row.facts.runs > 0 and row.behind is None,
            "catching_up_since": iso(row.behind.since) if row.behind else None,
            "backfill_steps_done": row.backfill.steps_done if row.backfill else None,
            "interval": duration(row.interval_s),
            "interval_s": row.interval_s,
            "set_by": row.set_by,
            "next_poll": iso(row.next_poll),
            "conditional": row.conditional,
            "conditional_note": row.conditional_note,
            "verdict": row.verdict,
            "health": row.condition.state if row.condition else None,
            "health_since": iso(row.condition.since) if row.condition else None,
            "last_error": row.last_error,
        }
        for row in found
    ]
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


def _has_schema(engine: Any) -> bool:
    from storage.db import current_revision

    return current_revision(engine) is not None


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
