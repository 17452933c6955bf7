"""A full disk, for a child `newsmon` process: SQLite may not grow the database file.

`PRAGMA max_page_count` caps the file at its current size, so the first write that needs a
new page fails with SQLite's own SQLITE_FULL, "database or disk is full", exactly as on a
full filesystem, while updates that fit in existing pages still succeed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _cap_at_current_size(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    (pages,) = cursor.execute("PRAGMA page_count").fetchone()
    cursor.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
    cursor.close()


def install() -> None:
    event.listen(Engine, "connect", _cap_at_current_size)
