"""Every row of every table of a newsmon SQLite store, as text: for tests that look for what
must never be stored (a password, an api_key)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def database_text(db: Path) -> dict[str, str]:
    """Table name -> its rows as text, for every table (full-text shadow tables included)."""
    with sqlite3.connect(db) as connection:
        names = [
            name
            for (name,) in connection.execute("select name from sqlite_master where type='table'")
        ]
        return {
            name: repr(connection.execute(f'select * from "{name}"').fetchall()) for name in names
        }
