"""The `newsmon` command: a thin layer over crawler/ and storage/.

The group lives here; each family of subcommands lives in a module of its own and takes the
shared State (jobs/cli/state.py) from the click context. Those modules never import this one,
so the group can register them without an import cycle; `python -m jobs.cli` runs
jobs/cli/__main__.py, which imports this package once, by name.
"""

from __future__ import annotations

import logging

import click

from crawler.redact import RedactingFilter
from jobs.cli import admin, alerts, archive, crawl, distributed, ops, query
from jobs.cli.state import State


@click.group(
    epilog="Example:\n\n\b\n  newsmon crawl\n  newsmon items --keyword Pakistan-US --since 7d",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="config.yaml to use (default: $NEWSMON_CONFIG, then ./config.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="newsmon")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """newsmon watches news and foreign-office sites, stores each new article once
    and flags the ones that mention your keywords."""
    level = ["WARNING", "INFO", "DEBUG"][min(verbose, 2)]
    handler = logging.StreamHandler()
    # On the handler, not only the root logger: Scrapy sets its own loggers to DEBUG.
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())  # a URL's password or api_key never reaches a log
    logging.basicConfig(level=level, handlers=[handler])
    ctx.obj = State(config_path)
    ctx.meta["log_level"] = level


for command in (
    crawl.crawl,
    crawl.backfill,
    crawl.demo,
    admin.check,
    admin.db,
    ops.run,
    ops.runs,
    ops.status,
    alerts.reflag,
    archive.reextract,
    alerts.alerts,
    distributed.worker,
):
    main.add_command(command)
query.register(main)  # items, show, export, stats, serve
