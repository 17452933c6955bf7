"""What the tests run against besides the code: newsmon databases (a SQLite file, or
PostgreSQL at 127.0.0.1:5432), Redis at 127.0.0.1:6379 and Debian's Chromium.

A missing service skips the tests that need it, with the reason; under CI=true every service
is installed, so a missing one fails them instead (`require`).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from storage.db import make_engine, prepare_for_writing

POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("NEWSMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = Path("/usr/bin/chromium")


def require(service: str, problem: str | None) -> None:
    """Skip the test for `problem` with `service` (fail it under CI=true); None: all is well."""
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{service} is required under CI=true: {problem}", pytrace=False)
    pytest.skip(f"{service}: {problem}")


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0]


def newsmon_engine(url: str) -> Engine:
    """An engine on `url` with the newsmon schema in place; the caller disposes of it."""
    engine = make_engine(url)
    prepare_for_writing(engine)
    return engine


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A PostgreSQL database created for the caller and dropped afterwards; yields its URL."""
    admin = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means "no server here"
        admin.dispose()
        where = make_url(POSTGRES_ADMIN_URL)
        require("PostgreSQL", f"not reachable at {where.host}:{where.port} ({_first_line(error)})")
    name = f"newsmon_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def throwaway_schema(database_url: str) -> Iterator[str]:
    """A fresh schema inside a PostgreSQL database, so each test starts empty; yields its URL."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def query(url: str, sql: str) -> list[tuple]:
    """Rows of `sql` on the database at `url` (either backend), through an engine of its own."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    """Rows of `sql` (with `?` parameters) in the SQLite file `db`, as a crawl left it."""
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(sql, params).fetchall()


def redis_url() -> str:
    """The test Redis, once it answers a ping."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001 - no server (or no client library), no Redis tests
        require("Redis", f"not reachable at {REDIS_URL} ({_first_line(error)})")
    return REDIS_URL


def chromium() -> Path:
    """Debian's Chromium, with Playwright to drive it (never `playwright install`)."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install playwright)"
    require("Chromium", problem)
    return CHROMIUM
