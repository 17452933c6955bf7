"""The `newsmon` command: a thin layer over crawler/ and storage/.

Read-only commands never import Scrapy, trafilatura, pydantic or the SQLAlchemy ORM, so they
start fast: they read only `database` from the config (State.database_url).
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crawler.config_file import ConfigError, database_url, find_config_path
from crawler.redact import RedactingFilter, redact_url
from jobs.exits import EXIT_CONFIG, EXIT_FAILED

if TYPE_CHECKING:
    from crawler.config import Config


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"newsmon: {message}", err=True)
    sys.exit(code)


class State:
    """The config and engine shared by the subcommands, loaded when first needed.

    Commands that write validate the whole config (`config`); commands that only read need
    just `database_url`, so a config being edited never blocks a query.
    """

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from crawler.config import load_config  # pydantic: only commands that need it

            try:
                self._config = load_config(find_config_path(self.config_path))
            except ConfigError as error:
                fail(str(error), EXIT_CONFIG)
        return self._config

    @property
    def database_url(self) -> str:
        """The config's database, read and checked without validating the rest of the file."""
        if self._config is not None:
            return self._config.database
        try:
            return database_url(find_config_path(self.config_path))
        except ConfigError as error:
            fail(str(error), EXIT_CONFIG)

    def engine(self, *, for_writing: bool = False) -> Any:
        """An engine on the config's database; for writing, after validating the whole config
        and creating the schema if the database is empty."""
        from storage.db import SchemaError, make_engine, prepare_for_writing

        if not for_writing:
            return make_engine(self.database_url)
        engine = make_engine(self.config.database)
        try:
            prepare_for_writing(engine)
        except SchemaError as error:
            fail(str(error), EXIT_CONFIG)
        return engine


pass_state = click.make_pass_decorator(State)


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


@main.command(
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


@main.command(epilog="Example:\n\n\b\n  newsmon check\n  newsmon --config other.yaml check")
@pass_state
def check(state: State) -> None:
    """Validate the config and print the sources and keywords it defines."""
    config = state.config
    click.echo(f"config: {find_config_path(state.config_path)}")
    click.echo(f"database: {redact_url(config.database)}")
    click.echo(f"sources ({len(config.sources)}):")
    for source in config.sources:
        politeness = config.politeness_for(source)
        state_note = "" if source.enabled else "  [disabled]"
        if not source.tls_verify:
            state_note += "  [TLS NOT VERIFIED]"
        click.echo(
            f"  {source.name:<20} {source.mode:<8} {redact_url(source.url)}  "
            f"(delay {politeness.delay:g}s, robots {'on' if politeness.obey_robots else 'off'}){state_note}"
        )
    click.echo(f"keywords ({len(config.keywords)}):")
    for rule in config.keywords:
        click.echo(f"  {rule.name:<20} {', '.join(rule.terms + rule.regex)}")
    from crawler.userregex import pattern_warnings

    for warning in pattern_warnings(config):
        click.echo(f"warning: {warning}")
    if config.alerts:
        click.echo(f"alerts ({len(config.alerts)}):")
    for alert in config.alerts:
        # Only the scheme: the rest of an Apprise URL often is a token.
        mode = f"digest every {alert.digest.every:g}s" if alert.digest else "each"
        keywords = ", ".join(alert.keywords) or "all keywords"
        click.echo(f"  {alert.name:<20} {alert.url.split('://')[0]}://…  {mode}; {keywords}")


@main.command(epilog="Example:\n\n\b\n  newsmon show 42\n  newsmon show 42 --versions")
@click.argument("item_id", type=int)
@click.option(
    "--versions", is_flag=True, help="Also print every stored version and what changed (a diff)."
)
@pass_state
def show(state: State, item_id: int, versions: bool) -> None:
    """Show one item in full, with each keyword match in context."""
    from jobs import output
    from storage.search import QueryError, get_item

    try:
        item = get_item(state.engine(), item_id)
    except QueryError as error:
        fail(str(error), EXIT_CONFIG)
    if item is None:
        fail(f"no item with id {item_id}")
    output.write_item(item, sys.stdout)
    if versions:
        from jobs.versions import write_versions
        from storage.incremental import list_versions

        write_versions(list_versions(state.engine(), item_id), sys.stdout)


@main.command(epilog="Example:\n\n\b\n  newsmon demo\n  newsmon --config data/demo.yaml items")
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


@main.group(epilog="Example:\n\n\b\n  newsmon db upgrade\n  newsmon db current")
def db() -> None:
    """Database schema: show the revision, apply migrations."""


@db.command(epilog="Example:\n\n\b\n  newsmon db upgrade")
@pass_state
def upgrade(state: State) -> None:
    """Apply schema migrations up to the newest revision."""
    from storage.db import upgrade as upgrade_schema

    state.config  # noqa: B018 - it writes: validate the whole config first (exit 2 when invalid)
    upgrade_schema(state.engine())
    _print_revisions(state)


@db.command(epilog="Example:\n\n\b\n  newsmon db current")
@pass_state
def current(state: State) -> None:
    """Print the database's schema revision and the newest one this newsmon knows."""
    _print_revisions(state)


def _print_revisions(state: State) -> None:
    from storage.db import current_revision, head_revision

    click.echo(f"current: {current_revision(state.engine()) or 'none (empty database)'}")
    click.echo(f"head:    {head_revision()}")


@db.command(
    "migrate-from",
    epilog="Example:\n\n\b\n  NEWSMON_DATABASE_URL=postgresql+psycopg://newsmon@db/newsmon \\\n"
    "    newsmon db migrate-from sqlite:///data/newsmon.db",
)
@click.argument("source_url", metavar="URL")
@pass_state
def migrate_from(state: State, source_url: str) -> None:
    """Copy every item, version, match, run and alert state from another newsmon database
    (usually the SQLite one) into this config's database. Safe to run again: rows already
    copied are skipped."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from storage.db import SchemaError, current_revision, make_engine
    from storage.transfer import copy_store

    try:
        parsed = make_url(source_url)
    except ArgumentError:
        fail(f"{source_url!r} is not a database URL (e.g. sqlite:///data/newsmon.db)", EXIT_CONFIG)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        fail(f"no SQLite database at {parsed.database}")
    source = make_engine(source_url)
    if current_revision(source) is None:
        fail(f"no newsmon database at {redact_url(source_url)}")
    target = state.engine(for_writing=True)

    def progress(table: str, done: int, total: int) -> None:
        click.echo(f"\r{table}: {done}/{total}", err=True, nl=done >= total)

    try:
        copies = copy_store(source, target, progress)
    except SchemaError as error:
        fail(str(error), EXIT_CONFIG)
    for copy in copies:
        click.echo(f"{copy.table:<20} {copy.source_rows:>9} rows, {copy.copied:>9} copied")


# Commands that live in their own modules. Those modules never import this one: under
# `python -m jobs.cli` it is __main__, and importing it by name would load it twice.
from jobs.cli_alerts import alerts, reflag  # noqa: E402
from jobs.cli_distributed import worker  # noqa: E402
from jobs.cli_ops import backfill, run, runs, status  # noqa: E402
from jobs.cli_query import register as register_query_commands  # noqa: E402

for command in (run, runs, status, backfill, reflag, alerts, worker):
    main.add_command(command)
register_query_commands(main)  # items, export, stats, serve


if __name__ == "__main__":
    main()
