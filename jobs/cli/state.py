"""What the `newsmon` subcommands share: the config and engine, loaded when first needed, and
how a command fails with a message and an exit code (the codes are in jobs/exits.py).

Read-only commands never import Scrapy, trafilatura, pydantic or the SQLAlchemy ORM, so they
start fast: they read only `database` from the config (State.database_url).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crawler.config.file import ConfigError, database_url, find_config_path
from jobs.exits import EXIT_CONFIG, EXIT_FAILED

if TYPE_CHECKING:
    from crawler.config.models import Config


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
            from crawler.config.load import load_config  # pydantic: only commands that need it

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


def format_option(*formats: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--format`, one of `formats` (the first is the default), passed to the command as `fmt`."""
    return click.option(
        "--format", "fmt", type=click.Choice(list(formats)), default=formats[0], show_default=True
    )
