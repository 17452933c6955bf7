"""Database faults and a killed crawl: the run ends cleanly with a recorded error, keeps no
partial item, and the next run stores what was lost, once."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.faults.child import start_newsmon
from tests.faults.pages import PHRASES, article_html, rss
from tests.faults.server import FaultSite
from tests.jobs.helpers import newsmon, write_config
from tests.localsite import RecordedRequest, Response
from tests.services import rows

pytestmark = pytest.mark.slow

fault = pytest.mark.fault
HTML = "text/html; charset=utf-8"


@pytest.fixture
def site():
    with FaultSite() as site:
        yield site


def one_article_source(site: FaultSite, tmp_path: Path, on_fetch=None, size: int = 1) -> Path:
    """A feed with one article; `on_fetch` runs when the article is requested."""
    body = article_html("Stored once", PHRASES["utf-8"] + " " + "More context. " * 300 * size)

    def article(_request: RecordedRequest) -> Response:
        if on_fetch is not None:
            on_fetch()
        return Response(body.encode(), headers={"Content-Type": HTML})

    site.route("/story.html", article)
    site.add("/feed.xml", rss([site.url("/story.html")]), content_type="application/rss+xml")
    return write_config(tmp_path, site, "  - name: news\n    feed: {base}/feed.xml\n")


def runs(db: Path) -> list[tuple]:
    return rows(db, "select status, error_text from crawl_runs order by id")


def stored(db: Path) -> int:
    try:
        return rows(db, "select count(*) from items")[0][0]
    except sqlite3.OperationalError:  # no schema yet
        return 0


def wait_for_line(stream, needle: str, timeout: float = 30) -> str:  # type: ignore[no-untyped-def]
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} never appeared in:\n{''.join(seen)}")


@fault(
    "database locked by a writer",
    "store waits the busy timeout, the run fails with the error recorded, next run stores it",
)
def test_a_database_locked_beyond_the_busy_timeout_fails_the_run_cleanly(tmp_path, site, observe):
    db = tmp_path / "newsmon.db"
    holder = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
    locked = threading.Event()

    def take_the_write_lock() -> None:
        if not locked.is_set():
            holder.execute("BEGIN IMMEDIATE")  # held until the crawl has given up storing
            locked.set()

    config = one_article_source(site, tmp_path, on_fetch=take_the_write_lock)
    child = start_newsmon(config, "crawl", env={"NEWSMON_SQLITE_BUSY_TIMEOUT_MS": "1000"})
    try:
        log = wait_for_line(child.stderr, "items failed")
    finally:
        if locked.is_set():
            holder.execute("COMMIT")  # let the run record its failure
    out, rest = child.communicate(timeout=60)
    holder.close()
    stderr = log + rest
    observe(f"exit {child.returncode}; run: {runs(db)[-1]}")
    assert child.returncode == 1 and "Traceback" not in stderr
    [(status, error_text)] = runs(db)
    assert status == "failed" and "database is locked" in error_text
    assert rows(db, "select count(*) from items") == [(0,)]

    again = newsmon(config, "crawl")
    assert again.returncode == 0, again.stderr
    assert rows(db, "select count(*) from items") == [(1,)]
    assert site.hits("/story.html") == 2


@fault(
    "long reader", "WAL: a reader holding a transaction for the whole crawl does not block storing"
)
def test_a_long_reader_does_not_block_the_crawl(tmp_path, site, observe):
    db = tmp_path / "newsmon.db"
    config = one_article_source(site, tmp_path)
    assert newsmon(config, "db", "upgrade").returncode == 0
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("select count(*) from items").fetchall()  # a snapshot held open
    try:
        result = newsmon(config, "crawl")
    finally:
        reader.execute("COMMIT")
        reader.close()
    observe(f"exit {result.returncode}; run: {runs(db)[-1]}")
    assert result.returncode == 0, result.stderr
    assert rows(db, "select count(*) from items") == [(1,)]


@fault(
    "disk full",
    "insert fails with SQLITE_FULL, the run fails with the error recorded, no partial item, next run stores it",
)
def test_a_full_disk_fails_the_run_cleanly_and_the_next_run_recovers(tmp_path, site, observe):
    db = tmp_path / "newsmon.db"
    config = one_article_source(site, tmp_path, size=4)  # ~20 KB of text: needs new pages
    assert newsmon(config, "db", "upgrade").returncode == 0
    child = start_newsmon(config, "crawl", hook="tests.faults.diskfull")
    out, err = child.communicate(timeout=120)
    observe(f"exit {child.returncode}; run: {runs(db)[-1]}")
    assert child.returncode == 1 and "Traceback" not in err, err
    [(status, error_text)] = runs(db)
    assert status == "failed" and "database or disk is full" in error_text
    assert rows(db, "select count(*) from items") == [(0,)]
    assert rows(db, "select count(*) from keyword_matches") == [(0,)]

    again = newsmon(config, "crawl")
    assert again.returncode == 0, again.stderr
    assert rows(db, "select count(*) from items") == [(1,)]


@fault(
    "kill -9 mid-crawl", "no partial rows, no duplicates; the abandoned run is marked interrupted"
)
def test_a_crawl_killed_mid_way_leaves_no_partial_rows_and_restarts_cleanly(
    tmp_path, site, observe
):
    db = tmp_path / "newsmon.db"
    hang = threading.Event()
    hang.set()
    fast = [f"/a/{n}.html" for n in range(55)]
    slow = [f"/slow/{n}.html" for n in range(5)]

    def page(path: str):  # type: ignore[no-untyped-def]
        body = article_html(f"Story {path}", PHRASES["utf-8"]).encode()

        def handler(_request: RecordedRequest) -> Response:
            while path.startswith("/slow/") and hang.is_set() and not site.stopping.is_set():
                time.sleep(0.05)
            return Response(body, headers={"Content-Type": HTML})

        return handler

    for path in fast + slow:
        site.route(path, page(path))
    site.add(
        "/feed.xml", rss([site.url(p) for p in slow + fast]), content_type="application/rss+xml"
    )
    # The slow pages outwait the kill: with the default 30 s timeout a loaded machine could
    # time them out and end the crawl (recording its run) before the first 50 are stored.
    config = write_config(
        tmp_path,
        site,
        "  - name: news\n    feed: {base}/feed.xml\n    politeness: {{timeout: 600s}}\n",
    )

    child = start_newsmon(config, "crawl")
    deadline = time.monotonic() + 120  # generous: a loaded CI box extracts slowly
    while time.monotonic() < deadline and stored(db) < 55 and child.poll() is None:
        time.sleep(0.1)  # until every fast page is stored: a batch of 50, then the rest on time
    os.killpg(child.pid, signal.SIGKILL)
    _, stderr = child.communicate(timeout=30)
    hang.clear()
    stored_before_kill = stored(db)
    assert stored_before_kill == 55, stderr
    assert runs(db) == [("running", None)]

    again = newsmon(config, "crawl")
    assert again.returncode == 0, again.stderr
    [(items, keys)] = rows(db, "select count(*), count(distinct url_key) from items")
    unmatched = rows(
        db, "select count(*) from items where id not in (select item_id from keyword_matches)"
    )
    statuses = [status for status, _ in runs(db)]
    observe(
        f"{stored_before_kill} stored before kill -9; after restart {items} items, {keys} keys; runs {statuses}"
    )
    assert items == keys == 60  # everything, once
    assert unmatched == [(0,)]  # every item came with its keyword matches
    assert statuses == ["interrupted", "ok"]
