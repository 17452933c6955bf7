"""Engine setup and schema state: SQLite (WAL, busy timeout) by default, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool, QueuePool

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
SCHEMA_LOCK_KEY = 0x6E65_7773  # "news": the PostgreSQL advisory lock held while creating the schema
BUSY_TIMEOUT_ENV = "NEWSMON_SQLITE_BUSY_TIMEOUT_MS"  # how long a writer waits for a held lock
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions. Kept here so that checking a database's schema
# does not import Alembic; a test holds it equal to Alembic's head.
SCHEMA_HEAD = "0011"


class SchemaError(RuntimeError):
    """The database schema is missing, older or newer than this code expects."""


def make_engine(url: str, pooled: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers and the writer share it.

    SQLite connections are opened for each checkout unless `pooled`: then a long-lived process
    that runs many small transactions (the daemon) keeps a few open, as PostgreSQL's are.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # NullPool by default: each checkout is a fresh connection, so forked or spawned processes
    # never share one. A pooled engine drops a connection opened by another process instead.
    # Never more to wait for in the pool than SQLite's own lock: overflow without bound.
    pool: dict[str, Any] = {"poolclass": NullPool}
    if pooled:
        pool = {"poolclass": QueuePool, "max_overflow": -1}
    engine = create_engine(
        url,
        **pool,
        connect_args={"timeout": sqlite_busy_timeout_ms() / 1000},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    if pooled:
        event.listen(engine, "connect", _remember_process)
        event.listen(engine, "checkout", _only_in_its_process)
    return engine


def _remember_process(_dbapi_connection: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _only_in_its_process(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if record.info.get("pid") != os.getpid():  # inherited through a fork: never used here
        record.dbapi_connection = proxy.dbapi_connection = None
        raise DisconnectionError("a connection of another process")


def sqlite_busy_timeout_ms() -> int:
    """The busy timeout: $NEWSMON_SQLITE_BUSY_TIMEOUT_MS if set (tests shorten it), else 10 s."""
    value = os.environ.get(BUSY_TIMEOUT_ENV, "")
    return int(value) if value.strip().isdigit() else SQLITE_BUSY_TIMEOUT_MS


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={sqlite_busy_timeout_ms()}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch a new database file to WAL; a file already in WAL (it persists) needs no lock."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    # Two processes opening a new file at once both ask for the switch. SQLite answers one of
    # them "database is locked" at once, without waiting out the busy timeout, because each
    # holds the shared lock the other needs released: retry until the timeout.
    deadline = time.monotonic() + sqlite_busy_timeout_ms() / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """Alembic's view of the newest revision (slow: it reads every migration script)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database, or None for a database without newsmon tables."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Held while the schema is created, so two processes starting at once do not both try."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.schema-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def prepare_for_writing(engine: Engine) -> None:
    """Create the schema on an empty database; refuse an older or unknown one with what to run."""
    if current_revision(engine) == SCHEMA_HEAD:
        return
    with schema_lock(engine):
        _create_or_refuse(engine)


def _create_or_refuse(engine: Engine) -> None:
    current, head = current_revision(engine), SCHEMA_HEAD
    if current == head:
        return  # another process created it while we waited for the lock
    if current is None:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
        if tables:
            raise SchemaError(
                f"the database has tables ({', '.join(sorted(tables)[:5])}) but no newsmon schema"
                " revision; point `database` at an empty or newsmon database"
            )
        log.info("creating the newsmon schema (revision %s)", head)
        upgrade(engine)
        return
    from alembic.script import ScriptDirectory

    known = {rev.revision for rev in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    if current not in known:
        raise SchemaError(
            f"the database schema is at revision {current}, newer than this newsmon knows"
            f" ({head}); upgrade newsmon"
        )
    raise SchemaError(
        f"the database schema is at revision {current}, this newsmon needs {head};"
        " run `newsmon db upgrade`"
    )


def dialect_insert(engine: Engine) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING."""
    # Imported here: the PostgreSQL dialect alone costs a SQLite crawl ~0.1 s of start-up.
    dialect = engine.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        return insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert
    raise NotImplementedError(f"newsmon stores into SQLite or PostgreSQL, not {dialect}")
