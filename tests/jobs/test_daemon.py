"""`newsmon run`: the scheduler daemon, end to end against the local fixture site.

Each test starts the real daemon in a child process; its crawls are child processes too.
Timings are in seconds, with margins for a loaded two-core machine.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.corpus import PAGES
from tests.jobs.helpers import REPO, write_config
from tests.jobs.newssite import Layout, NewsSite
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.processes import children_of, session_members, wait_until_gone

pytestmark = pytest.mark.slow

FEED_ARTICLES = [
    PAGES[name] for name in ("dar-rubio", "weekly-briefing", "cricket-series", "policy-rate-usaid")
]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so handlers that hang on it let their server threads go."""
    event = threading.Event()
    yield event
    event.set()


def start_daemon(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSMON_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "--config", str(config), "run", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_once(config: Path) -> tuple[int, str]:
    daemon = start_daemon(config, "--once")
    _, stderr = daemon.communicate(timeout=90)
    return daemon.returncode, stderr


def stop(daemon: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    daemon.send_signal(signal.SIGTERM)
    _, stderr = daemon.communicate(timeout=timeout)
    return daemon.returncode, stderr


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def runs(db: Path, source: str) -> list[dict]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        try:
            found = connection.execute(
                "select r.* from crawl_runs r join sources s on s.id = r.source_id"
                " where s.name = ? order by r.id",
                (source,),
            ).fetchall()
        except sqlite3.OperationalError:  # the schema is not created yet
            return []
    return [dict(row) for row in found]


def finished(db: Path, source: str) -> list[dict]:
    return [run for run in runs(db, source) if run["status"] != "running"]


def hang(release: threading.Event) -> Callable[[RecordedRequest], Response]:
    def handler(_request: RecordedRequest) -> Response:
        release.wait(30)
        return Response(b"too late", 503)

    return handler


def test_daemon_runs_sources_repeatedly_never_stacks_runs_and_kills_a_hung_one_at_its_timeout(
    tmp_path, site, release
):
    site.route("/hung/feed.xml", hang(release))
    config = write_config(
        tmp_path,
        site,
        "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n"
        "  - name: atom\n    feed: {base}/feeds/atom.xml\n"
        "  - name: hung\n    feed: {base}/hung/feed.xml\n    schedule: {{every: 1s}}\n"
        "    politeness: {{timeout: 60s, retries: 0}}\n",
        "schedule: {every: 2s}\ndaemon: {run_timeout: 15s, log_format: json}\n",
    )
    db = tmp_path / "newsmon.db"
    daemon = start_daemon(config)
    try:
        wait_for(
            lambda: (
                all(len(finished(db, name)) >= 2 for name in ("rss2", "atom"))
                and finished(db, "hung")
            ),
            timeout=60,
            what="two runs of each healthy source and one of the hung source",
        )
        # An invalid config on SIGHUP is refused; the daemon keeps crawling with the old one.
        good = config.read_text()
        config.write_text(good.replace("every: 2s", "every: soon"))
        daemon.send_signal(signal.SIGHUP)
        count = len(finished(db, "rss2"))
        wait_for(lambda: len(finished(db, "rss2")) > count, 20, "a run after a bad reload")
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr

    for name in ("rss2", "atom"):
        assert [run["status"] for run in finished(db, name)][:2] == ["ok", "ok"], [
            r["error_text"] for r in runs(db, name)
        ]
    assert len({run["url"] for run in _items(db)}) == len(_items(db)) > 0
    hung = finished(db, "hung")
    assert hung[0]["status"] == "failed"
    assert json.loads(hung[0]["error_kinds"]) == {"timeout": 1}
    assert "run_timeout" in hung[0]["error_text"]
    # Never stacked: every hung run ended before the next began, although it is due each second.
    intervals = [(run["started_at"], run["finished_at"]) for run in runs(db, "hung")]
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert end is not None and end <= start
    assert 1 <= len(intervals) <= 3  # stacked runs would number one per second
    assert site.hits("/hung/feed.xml") <= len(intervals)

    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    run_lines = [line for line in lines if line["message"].startswith("run ")]
    assert {"source", "duration_s", "pages", "new", "flagged", "errors"} <= set(run_lines[0])
    by_source = {line["source"] for line in run_lines}
    assert by_source == {"rss2", "atom", "hung"}
    assert any("config reload failed" in line["message"] for line in lines)


def _items(db: Path) -> list[dict]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("select * from items")]


def test_sigterm_mid_crawl_exits_0_keeps_whole_items_and_a_restart_adds_no_duplicate(
    tmp_path, site
):
    def slowly(path: str) -> Callable[[RecordedRequest], Response]:
        def handler(_request: RecordedRequest) -> Response:
            time.sleep(1.0)
            return site.serve_file(path)

        return handler

    for path in FEED_ARTICLES:
        site.route(path, slowly(path))
    sources = (
        "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n"
        "    politeness: {{concurrency_per_host: 1}}\n"
    )
    config = write_config(tmp_path, site, sources, "schedule: {every: 1h}\n")
    db = tmp_path / "newsmon.db"
    daemon = start_daemon(config)
    try:
        wait_for(lambda: sum(site.hits(p) for p in FEED_ARTICLES) >= 2, 30, "article fetches")
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    [first] = runs(db, "rss2")
    assert first["status"] in ("interrupted", "ok"), first
    stored = _items(db)
    for item in stored:  # whole items only: text, hash and matches committed together
        assert item["text"] and item["content_hash"]
    stored_paths = {"/" + item["url"].split("/", 3)[3] for item in stored}
    matches_before = _match_count(db)

    # Restart: the schedule says not yet (every 1h), so make it due and run once.
    config.write_text(config.read_text().replace("every: 1h", "every: 1s"))
    requests_before = len(site.requests)
    code, stderr = run_once(config)
    assert code == 0, stderr
    urls = [item["url"] for item in _items(db)]
    assert len(urls) == len(set(urls)) == 4
    assert _match_count(db) >= matches_before
    refetched = [r.path for r in site.requests[requests_before:] if r.path in stored_paths]
    assert refetched == []  # stored before the SIGTERM: neither fetched nor flagged again


def _match_count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        [(count,)] = connection.execute(
            "select count(*) from keyword_matches m join items i on i.id = m.item_id"
        ).fetchall()
        [(dupes,)] = connection.execute(
            "select count(*) from (select item_id, keyword, field, start from keyword_matches"
            " group by 1, 2, 3, 4 having count(*) > 1)"
        ).fetchall()
    assert dupes == 0
    return count


def test_run_once_continues_the_schedule_after_a_restart(tmp_path, site):
    config = write_config(
        tmp_path,
        site,
        "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n",
        "schedule: {every: 1h}\n",
    )
    db = tmp_path / "newsmon.db"
    code, stderr = run_once(config)
    assert code == 0, stderr
    code, stderr = run_once(config)
    assert code == 0, stderr
    assert len(runs(db, "rss2")) == 1  # ran moments ago and is due hourly: no catch-up burst
    assert "no source is due" in stderr
    started = datetime.fromisoformat(runs(db, "rss2")[0]["started_at"])
    assert started.year >= 2024


@pytest.fixture
def news() -> Iterator[NewsSite]:
    """A feed of 30 articles whose last one hangs: a crawl of it waits with its pool up."""
    with LocalSite() as site:
        news = NewsSite(site, Layout(feed=30))
        news.hanging.add(news.sections["feed"][-1])
        yield news
        news.release()


def crawl_children(daemon: subprocess.Popen[str]) -> list[int]:
    """The daemon's crawl children: forked by its zygote (jobs/zygote.py)."""
    return [pid for zygote in children_of(daemon.pid) for pid in children_of(zygote)]


def crawl_child_with_pool(daemon: subprocess.Popen[str]) -> int:
    """The daemon's crawl child, once its extraction pool is up."""
    found: list[int] = []

    def ready() -> bool:
        found[:] = [pid for pid in crawl_children(daemon) if len(session_members(pid)) >= 4]
        return bool(found)

    wait_for(ready, 60, "a crawl child with its extraction pool")
    return found[0]


def test_a_crawl_child_killed_alone_is_recorded_failed_at_once_and_frees_its_slot(tmp_path, news):
    config = write_config(
        tmp_path,
        news.site,
        news.sources(["feed"]),
        "schedule: {every: 1s}\ndaemon: {max_parallel: 1, run_timeout: 10m}\n",
    )
    db = tmp_path / "newsmon.db"
    daemon = start_daemon(config)
    try:
        child = crawl_child_with_pool(daemon)
        killed_at = time.monotonic()
        os.kill(child, signal.SIGKILL)  # the child alone, as the OOM killer does
        wait_for(lambda: finished(db, "wire"), 10, "the killed run to be recorded")
        recorded_after = time.monotonic() - killed_at
        assert wait_until_gone(child, timeout=5) == []
        # The one slot is free again: the next run of the source starts a new child.
        wait_for(lambda: len(runs(db, "wire")) >= 2, 15, "the next run")
    finally:
        news.release()
        code, stderr = stop(daemon)
    assert code == 0, stderr
    first = finished(db, "wire")[0]
    assert first["status"] == "failed"
    assert "killed by signal 9" in first["error_text"]
    assert recorded_after < 8, recorded_after


def test_a_daemon_killed_with_sigkill_leaves_no_crawl_running(tmp_path, news):
    config = write_config(tmp_path, news.site, news.sources(["feed"]), "schedule: {every: 1h}\n")
    daemon = start_daemon(config)
    try:
        child = crawl_child_with_pool(daemon)
        daemon.kill()
        daemon.communicate(timeout=10)
        assert wait_until_gone(child, timeout=5) == []
    finally:
        news.release()
        for pid in crawl_children(daemon) + children_of(daemon.pid):
            os.kill(pid, signal.SIGKILL)


def test_a_reload_replaces_the_childrens_config_copy_whole_never_rewrites_it(tmp_path, site):
    from jobs.daemon import ConfigSnapshot

    config = write_config(tmp_path, site, "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n")
    snapshot = ConfigSnapshot(config)
    try:
        before = snapshot.copy.stat().st_ino
        config.write_text(config.read_text().replace("rss2", "renamed"))
        snapshot.load()
        # A new file renamed over the old: a child opening it meanwhile read one whole file.
        assert snapshot.copy.stat().st_ino != before
        assert "renamed" in snapshot.copy.read_text()
        assert sorted(p.name for p in snapshot.copy.parent.iterdir()) == ["config.yaml"]
    finally:
        snapshot.close()


def test_a_run_cut_by_run_timeout_is_caught_up_by_the_next_run(tmp_path):
    from tests.jobs.test_crawl_interrupted import assert_stored_once, stored_paths

    with LocalSite() as site:
        news = NewsSite(site, Layout(listing_pages=3, per_page=10))
        # 1 s between requests: 33 of them take 33 s, past the 15 s run_timeout, which leaves
        # a child slow to start on a loaded machine time to store a few.
        sources = news.sources(["listing"], extra="    politeness: {{delay: 1s}}\n")
        config = write_config(
            tmp_path, site, sources, "schedule: {every: 1s}\ndaemon: {run_timeout: 15s}\n"
        )
        db = tmp_path / "newsmon.db"
        code, stderr = run_once(config)
        assert code == 1, stderr  # the timed-out run failed
        [cut] = finished(db, "press")
        assert (cut["status"], json.loads(cut["error_kinds"])) == ("failed", {"timeout": 1})
        assert 0 < len(stored_paths(db)) < 30

        config.write_text(
            config.read_text().replace("delay: 1s", "delay: 0s").replace("15s}", "2m}")
        )
        for expected_new in (True, False):  # the next run catches up; the one after has nothing
            before = len(stored_paths(db))
            code, stderr = run_once(config)
            assert code == 0, stderr
            assert (len(stored_paths(db)) > before) is expected_new
        assert_stored_once(db, news, ["listing"])
