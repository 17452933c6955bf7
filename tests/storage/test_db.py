import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import event, text

from storage.db import (
    SCHEMA_HEAD,
    SchemaError,
    current_revision,
    head_revision,
    make_engine,
    prepare_for_writing,
)


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'newsmon.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    assert (tmp_path / "sub").is_dir()


def test_switching_a_new_file_to_wal_waits_for_another_writer_instead_of_failing(tmp_path):
    # CI saw two crawls opening a new file at once fail "database is locked" on the switch:
    # SQLite refuses it at once, busy timeout or not, while another connection writes.
    path = tmp_path / "newsmon.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN")
    other.execute("SELECT * FROM t").fetchall()
    other.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.5, other.execute, ("COMMIT",)).start()
    started = time.monotonic()
    with make_engine(f"sqlite:///{path}").connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 1
    assert time.monotonic() - started >= 0.4  # it waited for the commit, then switched
    other.close()


def test_an_empty_database_gets_the_schema(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    assert current_revision(engine) is None
    prepare_for_writing(engine)
    assert current_revision(engine) == head_revision()
    prepare_for_writing(engine)  # idempotent


def test_a_newer_schema_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    prepare_for_writing(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaError, match="newer"):
        prepare_for_writing(engine)


def test_a_foreign_database_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER)"))
    with pytest.raises(SchemaError, match="invoices"):
        prepare_for_writing(engine)


def test_the_schema_head_constant_is_alembics_head():
    assert head_revision() == SCHEMA_HEAD


def test_a_schema_creation_cut_short_leaves_an_empty_database_not_a_stuck_one(database_url):
    from sqlalchemy import event, inspect

    engine = make_engine(database_url)

    def crash_midway(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "CREATE TABLE alert_deliveries" in statement:  # tables of 0001 exist by then
            raise RuntimeError("killed while creating the schema")

    event.listen(engine, "before_cursor_execute", crash_midway)
    with pytest.raises(RuntimeError, match="killed"):
        prepare_for_writing(engine)
    event.remove(engine, "before_cursor_execute", crash_midway)
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []  # nothing half-made
    prepare_for_writing(engine)  # so the next process simply creates it
    assert current_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_a_pooled_sqlite_engine_reuses_its_connections_but_never_across_a_fork(
    tmp_path, monkeypatch
):
    engine = make_engine(f"sqlite:///{tmp_path / 'pooled.db'}", pooled=True)
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(os.getpid()))
    for _ in range(3):
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    assert len(opened) == 1
    monkeypatch.setattr(os, "getpid", lambda: -1)  # what a forked child sees: another process
    with engine.connect() as connection:
        assert connection.execute(text("pragma journal_mode")).scalar() == "wal"
    assert opened == [opened[0], -1]  # a connection of its own, with the pragmas
