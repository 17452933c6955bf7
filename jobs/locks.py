"""Per-source crawl locks, so cron and the daemon never crawl one source twice at once.

SQLite: an flock()ed file per source next to the database file. PostgreSQL: a session-level
advisory lock keyed on the source name, held on a dedicated connection. Both vanish with the
process that holds them, so a killed crawl never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)


class SourceLocks(Protocol):
    def acquire(self, source: str) -> bool:
        """Take `source`'s lock without waiting; False when another process holds it."""

    def release_all(self) -> None: ...


class FileLocks:
    """flock() on `<database>.locks/<source>.lock`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.held: dict[str, int] = {}

    def acquire(self, source: str) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.directory / f"{source}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self.held[source] = descriptor
        return True

    def release_all(self) -> None:
        for descriptor in self.held.values():
            os.close(descriptor)  # closing the descriptor drops the flock
        self.held.clear()


def advisory_key(source: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock from the source name."""
    digest = hashlib.sha256(f"newsmon:source:{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLocks:
    """pg_try_advisory_lock on one connection kept open while the locks are held."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Any = None
        self.held: list[str] = []

    def acquire(self, source: str) -> bool:
        if self.connection is None:
            self.connection = self.engine.connect()
        taken = self.connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(source)}
        ).scalar()
        self.connection.commit()
        if taken:
            self.held.append(source)
        return bool(taken)

    def release_all(self) -> None:
        if self.connection is not None:
            self.connection.execute(text("SELECT pg_advisory_unlock_all()"))
            self.connection.close()
            self.connection = None
        self.held.clear()


class NoLocks:
    """An in-memory SQLite database is private to its process: nothing to guard."""

    def acquire(self, source: str) -> bool:
        return True

    def release_all(self) -> None:
        pass


def locks_for(engine: Engine) -> SourceLocks:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLocks(engine)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database).absolute()
        return FileLocks(database.with_name(database.name + ".locks"))
    return NoLocks()
