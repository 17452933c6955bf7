"""Engine setup and schema state: SQLite (WAL, busy timeout) by default, PostgreSQL in production."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions. Kept here so that checking a database's schema
# does not import Alembic; a test holds it equal to Alembic's head.
SCHEMA_HEAD = "0001"


class SchemaError(RuntimeError):
    """The database schema is missing, older or newer than this code expects."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers and the writer share it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # NullPool: each checkout is a fresh connection, so forked or spawned processes never share one.
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
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


def prepare_for_writing(engine: Engine) -> None:
    """Create the schema on an empty database; refuse an older or unknown one with what to run."""
    current, head = current_revision(engine), SCHEMA_HEAD
    if current == head:
        return
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
