"""Distributed mode on real services: Celery workers over Redis, the store on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.corpus import ARTICLE_LINKS, PAGES
from tests.jobs.helpers import REPO, write_config
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import query

pytestmark = pytest.mark.slow

SIX_SOURCES = (
    """
  - name: rss2
    feed: {base}/feeds/rss2.xml
  - name: atom
    feed: {base}/feeds/atom.xml
  - name: rss1
    feed: {base}/feeds/rss1.rdf
  - name: jsonfeed
    feed: {base}/feeds/feed.json
  - name: sitemaps
    sitemap: {base}/sitemaps/index.xml
  - name: listing
    listing: {base}/listing/
"""
    + f'    follow: "{ARTICLE_LINKS}"\n    pages: 3\n'
)


def distributed_config(
    tmp_path: Path, site: LocalSite, database: str, broker: str, **options: str
) -> Path:
    queue = f"newsmon-test-{uuid.uuid4().hex[:8]}"  # each test has its own queue
    settings = {"redelivery_after": "60s", "standby_poll": "1s", **options}
    extra = (
        f"distributed:\n  broker: {broker}\n  queue: {queue}\n"
        + "".join(f"  {key}: {value}\n" for key, value in settings.items())
        + "schedule: {every: 1h}\n"
    )
    return write_config(tmp_path, site, SIX_SOURCES, extra=extra, database=database)


def start(config: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "-v", "--config", str(config), *args],
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def finished_runs(url: str) -> dict[str, str]:
    return dict(
        query(
            url,
            "select s.name, r.status from crawl_runs r join sources s on s.id = r.source_id"
            " where r.status not in ('running', 'interrupted')",
        )
    )


def test_two_workers_share_six_sources_and_store_every_item_once(
    tmp_path, site, postgres_url, redis_broker
):
    config = distributed_config(tmp_path, site, postgres_url, redis_broker)
    workers = [
        start(config, "worker", "--concurrency", "1", log=tmp_path / f"worker{n}.log")
        for n in (1, 2)
    ]
    try:
        scheduler = start(
            config, "run", "--dispatch", "celery", "--once", log=tmp_path / "scheduler.log"
        )
        assert scheduler.wait(60) == 0, (tmp_path / "scheduler.log").read_text()
        wait_for(lambda: len(finished_runs(postgres_url)) == 6, 180, "six finished runs")
    finally:
        stop(*workers)
    assert set(finished_runs(postgres_url).values()) == {"ok"}
    [(items, distinct)] = query(postgres_url, "select count(*), count(distinct url_key) from items")
    assert items == distinct == 9
    received = [(tmp_path / f"worker{n}.log").read_text().count("received") for n in (1, 2)]
    assert all(count >= 1 for count in received), received  # both workers did work
    assert sum(received) == 6


def slow_articles(site: LocalSite, delay: float) -> None:
    """Every article answers after `delay` seconds, so a crawl is still running when killed."""
    for route in PAGES.values():

        def handler(request: RecordedRequest, route: str = route) -> Response:
            time.sleep(delay)
            return site.serve_file(route)

        site.route(route, handler)


@pytest.mark.timeout(600)  # redelivery after the kill: about two minutes here
def test_a_worker_killed_mid_crawl_leaves_its_source_to_the_other(
    tmp_path, site, postgres_url, redis_broker
):
    slow_articles(site, 1.5)
    config = distributed_config(tmp_path, site, postgres_url, redis_broker, redelivery_after="5s")
    first = start(config, "worker", "--concurrency", "1", log=tmp_path / "first.log")
    second = None
    try:
        dispatch = start(
            config, "run", "--dispatch", "celery", "--once", log=tmp_path / "scheduler.log"
        )
        assert dispatch.wait(60) == 0
        wait_for(
            lambda: query(postgres_url, "select count(*) from items")[0][0] >= 1,
            90,
            "the first worker to store an item",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = start(config, "worker", "--concurrency", "2", log=tmp_path / "second.log")
        wait_for(
            lambda: len(finished_runs(postgres_url)) == 6,
            240,
            "every source to finish on the second worker",
        )
    finally:
        stop(first, *([second] if second else []))
    [(items, distinct)] = query(postgres_url, "select count(*), count(distinct url_key) from items")
    assert items == distinct == 9
    assert set(finished_runs(postgres_url).values()) == {"ok"}
    # The killed crawl's run stays on record, and no item was half-written.
    assert query(postgres_url, "select count(*) from items where text is null or text = ''") == [
        (0,)
    ]


def test_a_standby_scheduler_takes_over_when_the_active_one_dies(
    tmp_path, site, postgres_url, redis_broker
):
    import redis

    config = distributed_config(tmp_path, site, postgres_url, redis_broker, standby_poll="1s")
    queue = next(
        line.split(":", 1)[1].strip()
        for line in config.read_text().splitlines()
        if "queue:" in line
    )
    broker = redis.Redis.from_url(redis_broker)
    active = start(config, "run", "--dispatch", "celery", log=tmp_path / "active.log")
    standby = None
    try:
        wait_for(
            lambda: "active scheduler" in (tmp_path / "active.log").read_text(),
            30,
            "the first scheduler",
        )
        wait_for(lambda: broker.llen(queue) == 6, 30, "six dispatched crawls")
        standby = start(config, "run", "--dispatch", "celery", log=tmp_path / "standby.log")
        wait_for(lambda: "standing by" in (tmp_path / "standby.log").read_text(), 30, "the standby")
        broker.delete(queue)
        active.send_signal(signal.SIGKILL)
        active.wait(10)
        killed_at = time.monotonic()
        wait_for(
            lambda: "active scheduler" in (tmp_path / "standby.log").read_text(),
            30,
            "the take-over",
        )
        took = time.monotonic() - killed_at
        # Nothing ran yet, so every source is due: the new scheduler enqueues all six.
        wait_for(lambda: broker.llen(queue) == 6, 30, "the new scheduler's dispatches")
    finally:
        stop(active, *([standby] if standby else []))
        broker.delete(queue)
    assert took < 10


def test_an_enqueued_crawl_expires_when_the_next_run_is_due(tmp_path, site, redis_broker):
    import json

    import redis

    from crawler.config.load import load_config
    from jobs.distributed import dispatcher_for

    config = load_config(
        distributed_config(tmp_path, site, f"sqlite:///{tmp_path / 'n.db'}", redis_broker)
    )
    client = redis.Redis.from_url(redis_broker)
    queue = config.distributed.queue
    try:
        before = time.time()
        dispatcher_for(config)("rss2")
        [raw] = client.lrange(queue, 0, -1)
    finally:
        client.delete(queue)
        client.close()
    message = json.loads(raw)
    expires = datetime.fromisoformat(message["headers"]["expires"]).timestamp()
    assert before + 3600 - 5 <= expires <= time.time() + 3600  # the schedule: every 1h


def test_a_crawl_child_that_times_out_is_killed_with_its_whole_group(tmp_path):
    from jobs.distributed import crawl_in_child
    from tests.jobs.newssite import Layout, NewsSite

    with LocalSite() as news_site:
        news = NewsSite(news_site, Layout(feed=30))
        news.hanging.add(news.sections["feed"][-1])
        config = write_config(tmp_path, news_site, news.sources(["feed"]))
        try:
            started = time.monotonic()
            code = crawl_in_child(config, "wire", timeout=8)
        finally:
            news.release()
    assert code == -signal.SIGKILL
    assert time.monotonic() - started < 20
    assert wait_for_no_children_of_ours(timeout=5) == []


def wait_for_no_children_of_ours(timeout: float) -> list[int]:
    """Processes left that a crawl child of this process started (they carry its pid)."""
    marker = f"NEWSMON_PARENT_PID={os.getpid()}".encode()
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker in (entry / "environ").read_bytes():
                    left.append(int(entry.name))
            except OSError:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
