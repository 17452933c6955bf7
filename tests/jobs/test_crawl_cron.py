"""Cron mode: `newsmon crawl` with per-source locks and `--due`; `runs` and `status` on the record."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.locks import FileLocks
from tests.jobs.helpers import REPO, newsmon, write_config

pytestmark = pytest.mark.slow


def run_statuses(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "select s.name, r.status from crawl_runs r join sources s on s.id = r.source_id"
            " order by r.id"
        ).fetchall()


def test_a_crawl_on_a_held_lock_exits_75_and_does_no_work(tmp_path, site):
    config = write_config(tmp_path, site, "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n")
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "db", "upgrade").returncode == 0
    locks = FileLocks(db.with_name("newsmon.db.locks"))  # as another crawl of rss2 would hold it
    assert locks.acquire("rss2")
    try:
        blocked = newsmon(config, "crawl", "--source", "rss2")
    finally:
        locks.release_all()
    assert blocked.returncode == 75, blocked.stderr
    assert blocked.stderr.strip().splitlines() == [
        "newsmon: source rss2 is being crawled by another process; skipped"
    ]
    assert site.requests == [] and run_statuses(db) == []

    # A run left 'running' by a killed crawl is closed as interrupted by the next crawl.
    with sqlite3.connect(db) as connection:
        connection.execute(
            "insert into sources (name, mode, url, created_at) values ('rss2', 'feed', 'x', '2025-01-01')"
        )
        connection.execute("insert into crawl_runs (source_id, started_at, status, pages, new_items, flagged, skipped, errors, error_kinds, pid) values (1, '2025-01-01', 'running', 0, 0, 0, 0, 0, '{}', 999999)")  # fmt: skip
    done = newsmon(config, "crawl", "--source", "rss2")
    assert done.returncode == 0, done.stderr
    assert run_statuses(db) == [("rss2", "interrupted"), ("rss2", "ok")]


def test_due_runs_only_the_sources_whose_schedule_says_so(tmp_path, site):
    config = write_config(
        tmp_path,
        site,
        "  - name: hourly\n    feed: {base}/feeds/rss2.xml\n    schedule: {{every: 1h}}\n"
        "  - name: yearly\n    feed: {base}/feeds/atom.xml\n"
        '    schedule: {{cron: "0 0 1 1 *", timezone: Asia/Karachi}}\n'
        "  - name: often\n    feed: {base}/feeds/feed.json\n    schedule: {{every: 1s}}\n",
    )
    first = newsmon(config, "crawl", "--due")
    assert first.returncode == 0, first.stderr
    time.sleep(1.2)
    second = newsmon(config, "crawl", "--due")
    assert second.returncode == 0, second.stderr
    assert [line.split()[0] for line in second.stdout.splitlines()] == ["often"]
    statuses = run_statuses(tmp_path / "newsmon.db")
    assert sorted(name for name, _ in statuses) == ["hourly", "often", "often", "yearly"]


def test_status_flags_a_source_that_failed_three_times_in_a_row(tmp_path, site):
    config = write_config(
        tmp_path,
        site,
        "  - name: good\n    feed: {base}/feeds/rss2.xml\n"
        "  - name: broken\n    feed: {base}/feeds/missing.xml\n",
        "daemon: {max_consecutive_failures: 3}\n",
    )
    assert newsmon(config, "crawl").returncode == 1
    assert newsmon(config, "crawl", "--source", "broken").returncode == 1
    two = newsmon(config, "status", "--format", "json")
    # Two failures in a row are under the threshold, but it never once succeeded: not ok.
    assert two.returncode == 1, two.stdout
    two_rows = {row["source"]: row for row in json.loads(two.stdout)}
    assert two_rows["broken"]["verdict"] == "never succeeded: 2 run(s), all failed"
    assert two_rows["good"]["healthy"] is True and two_rows["good"]["health"] == "ok"
    assert newsmon(config, "crawl", "--source", "broken").returncode == 1

    result = newsmon(config, "status", "--format", "json")
    assert result.returncode == 1
    rows = {row["source"]: row for row in json.loads(result.stdout)}
    assert rows["broken"]["healthy"] is False
    assert rows["broken"]["consecutive_failures"] == 3
    assert rows["broken"]["verdict"].startswith("failing")
    assert rows["broken"]["last_success"] is None
    assert rows["good"]["healthy"] is True and rows["good"]["new_24h"] == 4
    # Both are adaptive (the default): the crawls planned each one's next poll.
    assert rows["good"]["set_by"] == "new" and rows["good"]["interval_s"] == 300
    assert rows["broken"]["set_by"] == "backoff" and rows["broken"]["interval_s"] > 300
    assert rows["broken"]["next_poll"] > rows["good"]["next_poll"]
    table = newsmon(config, "status")
    assert table.returncode == 1 and "failing: 3 failures in a row" in table.stdout

    listed = newsmon(config, "runs", "--source", "broken", "--format", "jsonl")
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["status"] for r in records] == ["failed"] * 3
    assert all(r["error_kinds"] == {"http_404": 1} and r["error_text"] for r in records)
    assert len(json.loads(newsmon(config, "runs", "--limit", "2", "--format", "json").stdout)) == 2
    assert "broken" in newsmon(config, "runs").stdout


def test_runs_status_and_the_daemon_never_import_scrapy(tmp_path, site):
    config = write_config(tmp_path, site, "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n")
    probe = (
        "import runpy, sys\n"
        "for args in (['runs'], ['status']):\n"
        f"    sys.argv = ['newsmon', '--config', {str(config)!r}, *args]\n"
        "    try:\n"
        "        runpy.run_module('jobs.cli', run_name='__main__')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "import jobs.daemon, jobs.healthz\n"
        "print('heavy:', sorted(m for m in ('scrapy', 'trafilatura', 'twisted') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert "heavy: []" in result.stdout, result.stdout + result.stderr
