"""Set-up commands: `check` (validate the config) and `db` (schema revision, migrations, copying
from another database)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.config.file import find_config_path
from crawler.redact import redact_url
from jobs.cli.state import State, fail, format_option, pass_state
from jobs.exits import EXIT_CONFIG


@click.command(
    epilog="Example:\n\n\b\n  newsmon check\n  newsmon --config other.yaml check\n"
    "  newsmon check --live --source mofa --samples 5 --format json"
)
@click.option(
    "--live",
    is_flag=True,
    help="Fetch each source's discovery page and a few articles now; store nothing.",
)
@click.option(
    "--source", "names", multiple=True, metavar="NAME", help="With --live: only this source."
)
@click.option(
    "--samples",
    type=click.IntRange(min=1, max=50),
    default=3,
    show_default=True,
    help="With --live: articles to fetch and extract per source.",
)
@format_option("table", "json")
@pass_state
@click.pass_context
def check(
    ctx: click.Context, state: State, live: bool, names: tuple[str, ...], samples: int, fmt: str
) -> None:
    """Validate the config and print the sources and keywords it defines.

    With --live, try each source for real instead: a verdict per source (ok, no_articles,
    extraction_incomplete, blocked, error), its samples and problems. Exit 0 when every
    checked source is ok, 1 otherwise, 2 on a config error.
    """
    from crawler.fetchoptions import describe as describe_fetch_options

    config = state.config
    if live:
        from jobs.check import check_live

        sys.exit(check_live(config, names, samples, fmt, ctx.meta["log_level"]))
    if names or fmt != "table":
        fail("--source and --format apply only with --live", EXIT_CONFIG)
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
        options = describe_fetch_options(source)
        if options:
            click.echo(f"  {'':<20} {options}")
    click.echo(f"keywords ({len(config.keywords)}):")
    for rule in config.keywords:
        click.echo(f"  {rule.name:<20} {', '.join(rule.terms + rule.regex)}")
    from crawler.config.load import pattern_warnings

    for warning in pattern_warnings(config):
        click.echo(f"warning: {warning}")
    if config.alerts:
        click.echo(f"alerts ({len(config.alerts)}):")
    for alert in config.alerts:
        # Only the scheme: the rest of an Apprise URL often is a token.
        mode = f"digest every {alert.digest.every:g}s" if alert.digest else "each"
        keywords = ", ".join(alert.keywords) or "all keywords"
        click.echo(f"  {alert.name:<20} {alert.url.split('://')[0]}://…  {mode}; {keywords}")


@click.group(epilog="Example:\n\n\b\n  newsmon db upgrade\n  newsmon db current")
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
