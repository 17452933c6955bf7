"""The `newsmon` command: a thin layer over crawler/ and storage/.

Read-only commands never import Scrapy or trafilatura, so they start fast.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click

from crawler.config import Config, ConfigError, find_config_path, load_config, parse_duration

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"newsmon: {message}", err=True)
    sys.exit(code)


class State:
    """Lazily loaded config and engine shared by the subcommands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(find_config_path(self.config_path))
            except ConfigError as error:
                fail(str(error), EXIT_CONFIG)
        return self._config

    def engine(self, *, for_writing: bool = False) -> Any:
        from storage.db import SchemaError, make_engine, prepare_for_writing

        engine = make_engine(self.config.database)
        if for_writing:
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
    logging.basicConfig(level=level, handlers=[handler])
    ctx.obj = State(config_path)
    ctx.meta["log_level"] = level


@main.command(
    epilog="Example:\n\n\b\n  newsmon crawl\n  newsmon crawl --source mofa --source tribune"
)
@click.option(
    "--source", "names", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@pass_state
@click.pass_context
def crawl(ctx: click.Context, state: State, names: tuple[str, ...]) -> None:
    """Crawl every source once (or only those named); store and flag what is new.

    Exit 0 when every source succeeded, 1 when some failed (the others are still
    stored), 2 on a config error.
    """
    from jobs.crawl import crawl_once

    sys.exit(crawl_once(state.config, names, state.engine(for_writing=True), ctx.meta["log_level"]))


@main.command(epilog="Example:\n\n\b\n  newsmon check\n  newsmon --config other.yaml check")
@pass_state
def check(state: State) -> None:
    """Validate the config and print the sources and keywords it defines."""
    config = state.config
    click.echo(f"config: {find_config_path(state.config_path)}")
    click.echo(f"database: {_redact(config.database)}")
    click.echo(f"sources ({len(config.sources)}):")
    for source in config.sources:
        politeness = config.politeness_for(source)
        state_note = "" if source.enabled else "  [disabled]"
        click.echo(
            f"  {source.name:<20} {source.mode:<8} {source.url}  "
            f"(delay {politeness.delay:g}s, robots {'on' if politeness.obey_robots else 'off'}){state_note}"
        )
    click.echo(f"keywords ({len(config.keywords)}):")
    for rule in config.keywords:
        click.echo(f"  {rule.name:<20} {', '.join(rule.terms + rule.regex)}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def parse_when(value: str | None) -> datetime | None:
    """An ISO date or datetime, or a duration meaning that long ago (7d, 12h)."""
    if value is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use a date (2025-07-25), a datetime or a duration (7d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@main.command(
    epilog="Example:\n\n\b\n  newsmon items --keyword Pakistan-US --since 2025-07-01\n"
    "  newsmon items --source mofa --format csv > mofa.csv"
)
@click.option("--keyword", metavar="NAME", help="Only items flagged for this keyword rule.")
@click.option("--source", metavar="NAME", help="Only items from this source.")
@click.option(
    "--since", metavar="DATE", help="Published (or fetched) at or after: 2025-07-25, or 7d ago."
)
@click.option("--until", metavar="DATE", help="Published (or fetched) before this date.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl", "csv"]),
    default="table",
    show_default=True,
)
@pass_state
def items(
    state: State,
    keyword: str | None,
    source: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str,
) -> None:
    """List stored items, newest first."""
    from jobs import output
    from storage.queries import ItemFilter, list_items

    filters = ItemFilter(keyword, source, parse_when(since), parse_when(until), limit)
    output.write_items(list_items(state.engine(), filters), fmt, sys.stdout)


@main.command(epilog="Example:\n\n\b\n  newsmon show 42")
@click.argument("item_id", type=int)
@pass_state
def show(state: State, item_id: int) -> None:
    """Show one item in full, with each keyword match in context."""
    from jobs import output
    from storage.queries import get_item

    item = get_item(state.engine(), item_id)
    if item is None:
        fail(f"no item with id {item_id}")
    output.write_item(item, sys.stdout)


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


if __name__ == "__main__":
    main()
