"""`newsmon worker`: a Celery worker that runs crawl jobs (distributed mode)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.config.file import find_config_path
from jobs.cli.state import State, fail
from jobs.exits import EXIT_CONFIG


@click.command(
    epilog="Example:\n\n\b\n  newsmon worker\n  newsmon worker --concurrency 4\n\n"
    "The config needs a `distributed:` section with the broker URL."
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Batches of sources this worker crawls at once (one child process each).",
)
@click.pass_obj
@click.pass_context
def worker(ctx: click.Context, state: State, concurrency: int) -> None:
    """Crawl the batches of sources `newsmon run --dispatch celery` sends, until stopped."""
    from jobs.distributed import DistributedUnavailable, run_worker

    state.config  # noqa: B018 - validates the config first (exit 2 when invalid)
    path = Path(find_config_path(state.config_path)).absolute()
    level = "INFO" if ctx.meta["log_level"] == "WARNING" else ctx.meta["log_level"]
    try:
        sys.exit(run_worker(path, concurrency, level))
    except DistributedUnavailable as error:
        fail(str(error), EXIT_CONFIG)
