"""`newsmon run` polls due sources itself: unchanged ones start no process, changed ones of a
tick are crawled together by one child (jobs/daemon.py)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.jobs.helpers import write_config
from tests.jobs.test_daemon import run_once
from tests.localsite import LocalSite, RecordedRequest, Response

pytestmark = pytest.mark.slow

FEEDS = 24  # dozens, and one crawl child's worth


def feed(title: str) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title></channel></rss>'
    ).encode()


def serving(titles: dict[str, str], name: str) -> Callable[[RecordedRequest], Response]:
    def handler(_request: RecordedRequest) -> Response:
        return Response(feed(titles[name]), headers={"Content-Type": "application/rss+xml"})

    return handler


def pids_by_source(db, since_id: int) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        found = connection.execute(
            "select s.name, r.pid from crawl_runs r join sources s on s.id = r.source_id"
            " where r.id > ? and r.status = 'ok'",
            (since_id,),
        ).fetchall()
    return dict(found)


def last_run_id(db) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("select coalesce(max(id), 0) from crawl_runs").fetchone()[0]


def test_unchanged_polls_start_no_child_and_the_changed_go_to_one_crawl(tmp_path):
    names = [f"feed{number:02d}" for number in range(FEEDS)]
    titles = dict.fromkeys(names, "first")
    with LocalSite() as site:
        for name in names:
            site.route(f"/{name}.xml", serving(titles, name))
        sources = "".join(f"  - name: {name}\n    feed: {{base}}/{name}.xml\n" for name in names)
        config = write_config(tmp_path, site, sources, "schedule: {every: 1s}\n")
        db = tmp_path / "newsmon.db"

        code, stderr = run_once(config)  # nothing known yet: every source is crawled
        assert code == 0, stderr
        first = pids_by_source(db, 0)
        assert sorted(first) == names
        assert len(set(first.values())) == 1  # one crawl child for the whole tick

        time.sleep(1.1)
        mark = last_run_id(db)
        code, stderr = run_once(config)  # nothing changed: polled by the daemon alone
        assert code == 0, stderr
        second = pids_by_source(db, mark)
        assert sorted(second) == names
        assert len(set(second.values())) == 1  # every run recorded by the daemon itself
        assert set(second.values()).isdisjoint(first.values())
        assert all(site.hits(f"/{name}.xml") == 2 for name in names)  # no refetch

        changed = names[::6]
        for name in changed:
            titles[name] = "second"
        time.sleep(1.1)
        mark = last_run_id(db)
        code, stderr = run_once(config)
        assert code == 0, stderr
        third = pids_by_source(db, mark)
        assert sorted(third) == names
        crawl_pids = {third[name] for name in changed}
        assert len(crawl_pids) == 1
        assert all(third[name] != third[changed[0]] for name in names if name not in changed)
        # The crawl was handed the poll's response: each changed feed fetched once this tick.
        assert all(site.hits(f"/{name}.xml") == 3 for name in names)


def test_a_304_that_lies_is_caught_by_an_unconditional_poll_and_trusted_no_more(tmp_path):
    """The server keeps one ETag and answers 304 to it whatever its feed holds: the daemon's
    unconditional poll (jobs/cadence.send_unconditional) finds a new entry behind it, the
    source stops sending conditional requests and `status` says why."""
    catch_a_lying_304(tmp_path, run_once)


def catch_a_lying_304(tmp_path, run: Callable[[Path], tuple[int, str]]) -> None:
    """`run` (the daemon's --once, or `newsmon crawl`) twice against a feed whose 304s lie."""
    import json

    from tests.jobs.helpers import newsmon
    from tests.jobs.newssite import Layout, NewsSite

    with LocalSite() as site:
        news = NewsSite(site, Layout(feed=3))
        shown = news.sections["feed"][:2]
        conditional: list[bool] = []

        def lying_feed(request: RecordedRequest) -> Response:
            sent = {k.lower(): v for k, v in request.headers.items()}.get("if-none-match")
            conditional.append(sent is not None)
            if sent == '"v1"':
                return Response(b"", 304, {"ETag": '"v1"'})
            items = "".join(
                f"<item><title>{p}</title><link>{site.base_url}{p}</link></item>" for p in shown
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
            return Response(
                body.encode(), headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}
            )

        site.route("/wire/feed.xml", lying_feed)
        config = write_config(
            tmp_path, site, news.sources(["feed"]), "schedule: {adaptive: {min: 1s, max: 2s}}\n"
        )
        code, stderr = run(config)  # the first crawl stores two
        assert code == 0, stderr
        shown.append(news.sections["feed"][2])  # a new entry, behind the same ETag
        # The first crawl fetched without validators: the next verification is due after
        # `max` (cadence.send_unconditional), and a poll before it trusts the 304.
        time.sleep(2.5)
        code, stderr = run(config)
        assert code == 0, stderr
        status = newsmon(config, "status", "--format", "json")
    [row] = json.loads(status.stdout)
    assert conditional[-1] is False  # the poll past `max` went out without If-None-Match
    assert row["conditional"] is False
    assert "304 or unchanged validators" in row["conditional_note"]
    assert "unconditional" in row["set_by"]
    db = tmp_path / "newsmon.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("select count(*) from items").fetchone()[0] == 3


def test_healthz_and_metrics_count_the_daemons_polls_by_outcome(tmp_path):
    import json
    import urllib.request

    from tests.jobs.helpers import free_port
    from tests.jobs.test_daemon import start_daemon, stop, wait_for

    names = ["calm", "busy"]
    titles = dict.fromkeys(names, "first")
    with LocalSite() as site:
        for name in names:
            site.route(f"/{name}.xml", serving(titles, name))
        down = threading.Event()

        def flaky(request: RecordedRequest) -> Response:
            return Response(b"busy", 500) if down.is_set() else serving(titles, "calm")(request)

        site.route("/flaky.xml", flaky)
        sources = "".join(
            f"  - name: {name}\n    feed: {{base}}/{name}.xml\n" for name in [*names, "flaky"]
        )
        config = write_config(tmp_path, site, sources, "schedule: {every: 1s}\n")
        code, stderr = run_once(config)  # stores validators: from now on the daemon polls
        assert code == 0, stderr
        titles["busy"] = "second"
        down.set()
        port = free_port()
        daemon = start_daemon(config, "--health-port", str(port))

        def polls() -> dict[str, int]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return json.load(r)["polls"]
            except OSError:
                return {}

        try:
            wait_for(
                lambda: polls().get("unchanged", 0) >= 3 and polls().get("failed", 0) >= 1,
                60,
                "three unchanged polls and a failed one",
            )
            counted = polls()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                metrics = r.read().decode().splitlines()
        finally:
            code, stderr = stop(daemon)
        assert code == 0, stderr
    assert set(counted) == {"unchanged", "changed", "failed"}
    assert counted["changed"] >= 1  # busy's new title, seen once, then unchanged again
    for outcome in ("unchanged", "changed", "failed"):
        [line] = [
            m for m in metrics if m.startswith(f'newsmon_polls_total{{outcome="{outcome}"}} ')
        ]
        assert int(line.split()[-1]) >= counted[outcome]


def _next_batches(waiting: list[str], alone: set[str] = frozenset(), crawling=()):
    """The batches Daemon.next_batch hands out, one after another, for `waiting` sources named
    host/name, while the hosts in `crawling` stay busy."""
    from types import SimpleNamespace

    from jobs.daemon import Daemon

    daemon = SimpleNamespace(
        waiting={name: SimpleNamespace(host=name.split("/")[0]) for name in waiting},
        alone=set(alone),
        crawling_hosts=dict.fromkeys(crawling),
    )
    batches = []
    while batch := Daemon.next_batch(daemon):  # type: ignore[arg-type]
        batches.append(batch)
        for name in batch:
            del daemon.waiting[name]
    return batches, list(daemon.waiting)


def test_a_tick_is_crawled_25_sources_a_child_and_a_source_that_hung_alone():
    from jobs.daemon import MAX_BATCH_SOURCES

    assert MAX_BATCH_SOURCES == 25
    names = [f"h{n:02d}/s" for n in range(30)] + ["hung/s"]
    assert _next_batches(names, alone={"hung/s"}) == ([names[:25], names[25:30], ["hung/s"]], [])
    assert _next_batches(names[:3]) == ([names[:3]], [])


def test_a_child_takes_a_hosts_sources_together_and_never_a_host_another_child_crawls():
    big = [f"big/{n:02d}" for n in range(30)]  # more than one child takes: in turns
    batches, left = _next_batches(["a/1", *big, "a/2", "b/1"], crawling={"b"})
    assert batches == [["a/1", "a/2"], big[:25], big[25:]]
    assert left == ["b/1"]  # its host is being crawled: it waits for that child to end
    # A host that does not fit in the room left waits for the next child; smaller ones fill in.
    ten = [f"ten/{n}" for n in range(10)]
    twenty = [f"twenty/{n:02d}" for n in range(20)]
    batches, _ = _next_batches([*twenty, *ten, "one/1"])
    assert batches == [[*twenty, "one/1"], ten]
    # A source that hung goes alone, and its host's other sources after it, never beside it.
    batches, _ = _next_batches(["x/hung", "x/ok", "y/1"], alone={"x/hung"})
    assert batches == [["x/hung"], ["x/ok", "y/1"]]


def test_a_source_that_publishes_often_is_polled_more_often_than_one_that_never_changes(
    tmp_path,
):
    """Adaptive schedules (jobs/cadence.py): a feed with a new entry at each poll is polled
    as soon as its crawls allow; one whose two entries are ten days old, at `max`."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from tests.jobs.newssite import Layout, NewsSite
    from tests.jobs.test_daemon import start_daemon, stop

    def items(paths: list[str], published: datetime | None = None) -> str:
        date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
        return "".join(
            f"<item><title>{p}</title><link>{site.base_url}{p}</link>{date}</item>" for p in paths
        )

    def rss(body: str) -> Response:
        text = f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'
        return Response(text.encode(), headers={"Content-Type": "application/rss+xml"})

    with LocalSite() as site:
        news = NewsSite(site, Layout(feed=40))
        stories = news.sections["feed"]
        busy_polls: list[float] = []

        def busy(_request: RecordedRequest) -> Response:
            busy_polls.append(time.monotonic())
            return rss(items(stories[: 1 + len(busy_polls)][-10:]))  # one more each poll

        old = datetime.now(UTC) - timedelta(days=10)
        site.route("/busy.xml", busy)
        site.route("/quiet.xml", lambda _request: rss(items(stories[-2:], old)))
        config = write_config(
            tmp_path,
            site,
            "  - name: busy\n    feed: {base}/busy.xml\n"
            "  - name: quiet\n    feed: {base}/quiet.xml\n",
            "schedule: {adaptive: {min: 1s, max: 20s}}\n",
        )
        daemon = start_daemon(config)
        try:
            time.sleep(25)
        finally:
            code, stderr = stop(daemon)
        assert code == 0, stderr
        busy_hits, quiet_hits = site.hits("/busy.xml"), site.hits("/quiet.xml")
    assert 1 <= quiet_hits <= 3, quiet_hits  # its first crawl, then about every 20 s
    # A crawl child takes seconds: the busy feed is polled again as soon as each ends.
    assert busy_hits >= max(4, 2 * quiet_hits), (busy_hits, quiet_hits)
    with sqlite3.connect(tmp_path / "newsmon.db") as connection:
        stored = dict(
            connection.execute(
                "select s.name, count(*) from items i join sources s on s.id = i.source_id"
                " group by s.name"
            ).fetchall()
        )
    assert stored["quiet"] == 2
    assert stored["busy"] >= busy_hits - 1  # what it was polled for was stored


def test_two_crawl_children_never_work_one_host_at_once_nor_a_poll_beside_a_crawl(tmp_path):
    """`one` changes and its crawl fetches a slow page; `two`, on the same host, changes while
    that crawl is under way. Its poll and crawl wait for the first child to end: the host's
    concurrency (1 here) holds across the daemon's polls and its children."""
    from tests.corpus import PAGES, fixture_site
    from tests.jobs.test_daemon import finished, start_daemon, stop, wait_for

    items = {"one": [PAGES["dar-rubio"]], "two": [PAGES["weekly-briefing"]]}
    slow, late = PAGES["cricket-series"], PAGES["policy-rate-usaid"]
    lock = threading.Lock()
    in_flight, most = [0], [0]
    spans: dict[str, tuple[float, float]] = {}  # path: (start, end) of its last request

    def listing(name: str) -> Callable[[RecordedRequest], Response]:
        def handler(_request: RecordedRequest) -> Response:
            entries = "".join(
                f"<item><title>{path}</title><link>{site.base_url}{path}</link></item>"
                for path in items[name]
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            return Response((body + entries + "</channel></rss>").encode())

        return handler

    with fixture_site() as site:
        serve = site.handle

        def recorded(request: RecordedRequest) -> Response:
            path = request.path.split("?", 1)[0]
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            started = time.monotonic()
            try:
                if path == slow:
                    items["two"].append(late)  # `two` changes while `one` is being crawled
                    time.sleep(3)
                return serve(request)
            finally:
                with lock:
                    in_flight[0] -= 1
                    spans[path] = (started, time.monotonic())

        site.handle = recorded  # type: ignore[method-assign]
        for name in items:
            site.route(f"/{name}.xml", listing(name))
        sources = "".join(f"  - name: {n}\n    feed: {{base}}/{n}.xml\n" for n in items)
        config = write_config(tmp_path, site, sources, "schedule: {every: 1s}\n")
        config.write_text(
            config.read_text().replace("concurrency_per_host: 8", "concurrency_per_host: 1")
        )
        db = tmp_path / "newsmon.db"
        daemon = start_daemon(config)
        try:
            wait_for(lambda: all(finished(db, n) for n in items), 60, "a first crawl of both")
            with lock:
                most[0] = 0
            items["one"].append(slow)
            wait_for(lambda: late in spans, 60, "the late page of `two` fetched")
        finally:
            code, stderr = stop(daemon)
    assert code == 0, stderr
    assert most[0] == 1  # never two requests to the host at once
    assert spans[late][0] >= spans[slow][1]  # `two`'s crawl came after `one`'s slow page


def test_sources_that_change_a_poll_apart_wait_batch_wait_and_share_one_crawl_child(tmp_path):
    from tests.jobs.test_daemon import finished, start_daemon, stop, wait_for

    names = ["early", "late", "still"]
    titles = dict.fromkeys(names, "first")
    with LocalSite() as site:
        for name in names:
            site.route(f"/{name}.xml", serving(titles, name))
        sources = "".join(f"  - name: {name}\n    feed: {{base}}/{name}.xml\n" for name in names)
        config = write_config(
            tmp_path, site, sources, "schedule: {every: 1s}\ndaemon: {batch_wait: 4s}\n"
        )
        db = tmp_path / "newsmon.db"
        daemon = start_daemon(config)
        try:
            wait_for(
                lambda: all(finished(db, name) for name in names), 60, "a first crawl of all three"
            )
            time.sleep(6)  # their first batch_wait and crawl are over
            mark = last_run_id(db)
            titles["early"] = "second"
            time.sleep(1.5)  # a poll or more later
            titles["late"] = "second"
            wait_for(
                lambda: {"early", "late"} <= set(crawled_by_children(db, mark, daemon.pid)),
                30,
                "both crawled",
            )
        finally:
            code, stderr = stop(daemon)
    assert code == 0, stderr
    crawled = crawled_by_children(db, mark, daemon.pid)
    assert crawled["early"] == crawled["late"]  # one child took both
    assert "still" not in crawled  # unchanged: polled by the daemon alone


def crawled_by_children(db, since_id: int, daemon_pid: int) -> dict[str, int]:
    """Source -> pid of the crawl child that ran it after run `since_id` (not the daemon's
    own records of unchanged polls)."""
    with sqlite3.connect(db) as connection:
        found = connection.execute(
            "select s.name, r.pid from crawl_runs r join sources s on s.id = r.source_id"
            " where r.id > ? and r.pid != ? and r.status = 'ok' order by r.id",
            (since_id, daemon_pid),
        ).fetchall()
    return dict(found)
