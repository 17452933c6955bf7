"""`newsmon demo`: the bundled site crawled end to end, as a newcomer runs it, twice."""

from __future__ import annotations

import sqlite3

import pytest

from tests.jobs.helpers import newsmon

pytestmark = pytest.mark.slow


def test_the_demo_stores_and_flags_and_can_run_again(tmp_path):
    for _ in range(2):  # the second run starts over: a new port, a fresh database and locks
        result = newsmon(None, "demo", "--dir", str(tmp_path), timeout=180)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Dar seeks 'stable relationship' with US" in result.stdout
        with sqlite3.connect(tmp_path / "demo.db") as connection:
            [(items,)] = connection.execute("select count(*) from items").fetchall()
            [(flagged,)] = connection.execute(
                "select count(distinct item_id) from keyword_matches where keyword = 'Pakistan-US'"
            ).fetchall()
        assert items >= 5 and flagged >= 2
