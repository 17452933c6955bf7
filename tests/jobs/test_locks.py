"""Per-source crawl locks: a file lock for SQLite, an advisory lock for PostgreSQL."""

from __future__ import annotations

from sqlalchemy import create_engine

from jobs.locks import AdvisoryLocks, FileLocks, advisory_key, locks_for
from storage.db import make_engine


def test_file_locks_exclude_a_second_holder_per_source(tmp_path):
    first, second = FileLocks(tmp_path / "locks"), FileLocks(tmp_path / "locks")
    assert first.acquire("mofa")
    assert not second.acquire("mofa")  # separate open files: as two processes would hold them
    assert second.acquire("dawn")  # other sources are independent
    first.release_all()
    assert second.acquire("mofa")
    second.release_all()


def test_the_lock_kind_follows_the_database(tmp_path):
    locks = locks_for(make_engine(f"sqlite:///{tmp_path}/data/newsmon.db"))
    assert isinstance(locks, FileLocks)
    assert locks.directory == tmp_path / "data" / "newsmon.db.locks"
    assert isinstance(locks_for(create_engine("postgresql+psycopg://u@h/db")), AdvisoryLocks)


def test_advisory_keys_are_stable_signed_64_bit_and_distinct():
    keys = {advisory_key(name) for name in ("mofa", "dawn", "state-dept")}
    assert len(keys) == 3 and all(-(2**63) <= key < 2**63 for key in keys)
    assert advisory_key("mofa") == advisory_key("mofa")


def test_advisory_locks_exclude_a_second_session(postgres_url):
    engine = create_engine(postgres_url)
    first, second = AdvisoryLocks(engine), AdvisoryLocks(engine)
    try:
        assert first.acquire("mofa")
        assert not second.acquire("mofa")
        assert second.acquire("dawn")
        first.release_all()
        assert second.acquire("mofa")
    finally:
        first.release_all()
        second.release_all()
        engine.dispose()
