"""Commands that crawl: `crawl` (every source once, for cron), `backfill` (one source, deeper)
and `demo` (the whole pipeline on a bundled fixture site)."""

from __future__ import annotations

import gc
import sys

import click

from jobs.cli.state import State, pass_state
from jobs.when import parse_when


@click.command(
    epilog="Example:\n\n\b\n  newsmon crawl\n  newsmon crawl --source mofa --source tribune\n"
    "  newsmon crawl --due   # from cron: * * * * *"
)
@click.option(
    "--source", "names", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.option(
    "--due", is_flag=True, help="Only the sources whose schedule says they are due (for cron)."
)
@pass_state
@click.pass_context
def crawl(ctx: click.Context, state: State, names: tuple[str, ...], due: bool) -> None:
    """Crawl every source once (or only those named); store and flag what is new.

    Exit 0 when every source succeeded, 1 when some failed (the others are still
    stored), 2 on a config error, 75 when another crawl holds a source's lock.
    """
    # Start-up makes ~100k objects that live as long as the process (modules, classes,
    # schemas). Collecting while they are made, and again at exit, only walks them over and
    # over: ~0.15 s of a run that finds nothing new. run_crawl turns collection back on.
    gc.disable()
    from crawler.lifeline import watch_parent_from_env
    from jobs.crawl import crawl_once

    watch_parent_from_env()  # a child of the daemon or a Celery worker dies with it

    engine = state.engine(for_writing=True)
    code = crawl_once(state.config, names, engine, ctx.meta["log_level"], due=due)
    gc.freeze()
    sys.exit(code)


@click.command(
    epilog="Example:\n\n\b\n  newsmon backfill --source mofa --pages 200\n"
    "  newsmon backfill --source state-dept --since 2025-01-01\n"
    "  newsmon backfill --source mofa   # after an interruption: continues where it stopped"
)
@click.option("--source", "name", required=True, metavar="NAME", help="The source to backfill.")
@click.option(
    "--pages",
    type=click.IntRange(min=1),
    metavar="N",
    help="Listing pages (or child sitemaps) to walk; default: all there are.",
)
@click.option(
    "--since",
    metavar="DATE",
    callback=lambda _ctx, _param, value: _checked_when(value),
    help="Skip what is older: 2025-01-01, or a duration such as 90d.",
)
@click.option("--restart", is_flag=True, help="Start over instead of resuming an unfinished one.")
@click.pass_obj
@click.pass_context
def backfill(
    ctx: click.Context,
    state: State,
    name: str,
    pages: int | None,
    since: str | None,
    restart: bool,
) -> None:
    """Walk a listing or sitemap source deeper than routine runs do, and store what is missing.

    Politely (the source's delay), in resumable steps: a listing page or a child sitemap
    with its articles. A backfill that is stopped or killed continues where it stopped when
    run again. Progress: a bar on a terminal, a line per step otherwise. Exit codes as for
    `crawl`: 0 ok, 1 failed, 2 config error (or a feed source), 75 the source is locked.
    """
    from crawler.lifeline import watch_parent_from_env
    from jobs.backfill import backfill_source

    watch_parent_from_env()
    engine = state.engine(for_writing=True)
    code = backfill_source(
        state.config,
        name,
        engine,
        pages=pages,
        since=since,
        restart=restart,
        log_level=ctx.meta["log_level"],
    )
    sys.exit(code)


@click.command(epilog="Example:\n\n\b\n  newsmon demo\n  newsmon --config data/demo.yaml items")
@click.option(
    "--dir",
    "workdir",
    default="data",
    show_default=True,
    help="Where the demo database and config go.",
)
def demo(workdir: str) -> None:
    """Serve a bundled fixture site on 127.0.0.1 and run the whole pipeline on it (no internet needed)."""
    from jobs.demo import run_demo

    sys.exit(run_demo(workdir))


def _checked_when(value: str | None) -> str | None:
    """A valid --since, kept as typed (a duration stays relative when a backfill resumes)."""
    parse_when(value)
    return value
