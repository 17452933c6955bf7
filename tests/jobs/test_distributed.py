"""Distributed mode on real services: Celery workers over Redis, the store on PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
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
    tmp_path: Path,
    site: LocalSite,
    database: str,
    broker: str,
    sources: str = SIX_SOURCES,
    daemon: str = "",
    **options: str,
) -> Path:
    queue = f"newsmon-test-{uuid.uuid4().hex[:8]}"  # each test has its own queue
    settings = {"redelivery_after": "60s", "standby_poll": "1s", **options}
    extra = (
        f"distributed:\n  broker: {broker}\n  queue: {queue}\n"
        + "".join(f"  {key}: {value}\n" for key, value in settings.items())
        + "schedule: {every: 1h}\n"
        + (f"daemon: {daemon}\n" if daemon else "")
    )
    return write_config(tmp_path, site, sources, extra=extra, database=database)


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


def test_two_workers_crawl_six_sources_of_one_host_as_one_batch_in_one_child(
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
    # One host: one batch task, taken by one of the workers, crawled by one child.
    received = [(tmp_path / f"worker{n}.log").read_text().count("received") for n in (1, 2)]
    assert sum(received) == 1, received
    assert "newsmon.crawl_batch" in "".join(
        (tmp_path / f"worker{n}.log").read_text() for n in (1, 2)
    )
    assert query(postgres_url, "select count(distinct pid), count(*) from crawl_runs") == [(1, 6)]


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
    # The killed worker's host lease lives run_timeout and a margin: the second waits it out.
    config = distributed_config(
        tmp_path,
        site,
        postgres_url,
        redis_broker,
        daemon="{run_timeout: 20s}",
        redelivery_after="5s",
    )
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
        wait_for(lambda: broker.llen(queue) == 1, 30, "the dispatched batch (one host)")
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
        # Nothing ran yet, so every source is due: the new scheduler enqueues all six again.
        wait_for(lambda: broker.llen(queue) == 1, 30, "the new scheduler's batch")
    finally:
        stop(active, *([standby] if standby else []))
        broker.delete(queue)
    assert took < 10


def queued(client, queue: str) -> list[tuple[str, list[str], float]]:  # type: ignore[no-untyped-def]
    """(task name, its sources, when it expires) of each message in the queue, oldest first."""
    messages = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        expires = datetime.fromisoformat(message["headers"]["expires"]).timestamp()
        messages.append((message["headers"]["task"], args[0], expires))
    return messages


def test_an_enqueued_batch_expires_when_its_sources_next_run_is_due(tmp_path, site, redis_broker):
    import redis

    from crawler.config.load import load_config
    from jobs.distributed import dispatcher_for

    sources = SIX_SOURCES.replace(
        "  - name: atom\n", "  - name: atom\n    schedule: {{every: 10m}}\n"
    )
    config = load_config(
        distributed_config(
            tmp_path, site, f"sqlite:///{tmp_path / 'n.db'}", redis_broker, sources=sources
        )
    )
    client = redis.Redis.from_url(redis_broker)
    queue = config.distributed.queue
    try:
        before = time.time()
        dispatcher_for(config)(["rss2"], config)
        dispatcher_for(config)(["rss2", "atom"], config)
        [(task, names, expires), (_, both, sooner)] = queued(client, queue)
    finally:
        client.delete(queue)
        client.close()
    assert (task, names, both) == ("newsmon.crawl_batch", ["rss2"], ["rss2", "atom"])
    assert before + 3600 - 5 <= expires <= time.time() + 3600  # the schedule: every 1h
    assert before + 600 - 5 <= sooner <= time.time() + 600  # the batch's shortest: atom's 10m


def thirty_sources(hosts: Sequence[LocalSite], counts: Sequence[int]) -> str:
    return "".join(
        f"  - name: s{h}x{n}\n    feed: {host.base_url}/feeds/rss2.xml?n={n}\n"
        for h, (host, count) in enumerate(zip(hosts, counts, strict=True))
        for n in range(count)
    )


def test_batches_hold_at_most_25_sources_and_split_only_a_host_with_more():
    from types import SimpleNamespace

    from jobs.daemon import MAX_BATCH_SOURCES
    from jobs.distributed import batches_by_host

    def sources(counts: dict[str, int]) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(name=f"{host}-{n}", url=f"http://{host}/feed{n}")
            for host, count in counts.items()
            for n in range(count)
        ]

    def hosts(batch: list[str]) -> list[str]:
        return sorted({name.rsplit("-", 1)[0] for name in batch})

    assert MAX_BATCH_SOURCES == 25
    # 30 sources on 3 hosts: a (20) and c (4) fit one batch, b (6) takes a second.
    batches = batches_by_host(sources({"a.example": 20, "b.example": 6, "c.example": 4}))  # type: ignore[arg-type]
    assert [hosts(batch) for batch in batches] == [["a.example", "c.example"], ["b.example"]]
    assert sorted(len(batch) for batch in batches) == [6, 24]
    # A host with more than 25 is split into batches of its own (they take turns by its lease);
    # the others fill batches of 25.
    counts = {"big.example": 30, **{f"h{n}.example": 5 for n in range(12)}}
    batches = batches_by_host(sources(counts))  # type: ignore[arg-type]
    assert [len(batch) for batch in batches] == [25, 5, 25, 25, 10]
    assert [hosts(batch) for batch in batches[:2]] == [["big.example"], ["big.example"]]
    assert sorted(host for batch in batches[2:] for host in hosts(batch)) == sorted(counts)[1:]
    # A host is matched case-blind, as the crawl's per-host budget is.
    [mixed] = batches_by_host(  # type: ignore[arg-type]
        [
            SimpleNamespace(name="x", url="http://A.example/1"),
            SimpleNamespace(name="y", url="http://a.EXAMPLE/2"),
        ]
    )
    assert mixed == ["x", "y"]
    # 100,000 sources, one host each, in 4,000 batches: quickly, for a tick's sake.
    many = [SimpleNamespace(name=f"s{n}", url=f"http://h{n}.example/") for n in range(100_000)]
    started = time.monotonic()
    batches = batches_by_host(many)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert len(batches) == 4000 and {len(batch) for batch in batches} == {25}


def test_a_tick_of_thirty_sources_on_three_hosts_enqueues_batches_that_never_split_a_host(
    tmp_path, site, redis_broker
):
    import redis
    from sqlalchemy import update

    from storage.clock import utcnow
    from storage.crawlstate import ensure_source
    from storage.db import make_engine, prepare_for_writing
    from storage.runs import end_running_runs, start_run
    from storage.tables import crawl_runs

    with LocalSite() as second, LocalSite() as third:
        hosts = [site, second, third]
        config = distributed_config(
            tmp_path,
            site,
            f"sqlite:///{tmp_path / 'n.db'}",
            redis_broker,
            sources=thirty_sources(hosts, [20, 6, 4]),
        )
        queue = next(
            line.split(":", 1)[1].strip()
            for line in config.read_text().splitlines()
            if "queue:" in line
        )
        # One source's last run hung until run_timeout (as a worker records it): it goes alone.
        engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
        prepare_for_writing(engine)
        start_run(engine, ensure_source(engine, "s1x0", "feed", "http://x/feed"), pid=9)
        end_running_runs(engine, 9, status="failed", kind="timeout", error_text="killed")
        with engine.begin() as connection:  # a day ago: the source is due again
            connection.execute(update(crawl_runs).values(started_at=utcnow() - timedelta(days=1)))
        client = redis.Redis.from_url(redis_broker)
        try:
            scheduler = start(
                config, "run", "--dispatch", "celery", "--once", log=tmp_path / "scheduler.log"
            )
            assert scheduler.wait(60) == 0, (tmp_path / "scheduler.log").read_text()
            messages = queued(client, queue)
        finally:
            client.delete(queue)
            client.close()
        requests = sum(len(host.requests) for host in hosts)
    assert requests == 0  # the scheduler only enqueues: workers poll and crawl
    assert {task for task, _, _ in messages} == {"newsmon.crawl_batch"}
    batches = [names for _, names, _ in messages]
    assert sorted(len(batch) for batch in batches) == [1, 4, 25]
    assert ["s1x0"] in batches
    assert sorted(name for batch in batches for name in batch) == sorted(
        f"s{h}x{n}" for h, count in enumerate([20, 6, 4]) for n in range(count)
    )
    by_host = [{name.split("x")[0] for name in batch} for batch in batches]
    assert sorted(map(sorted, by_host)) == [["s0", "s1"], ["s1"], ["s2"]]


def test_a_batch_whose_host_another_holds_is_retried_later_not_crawled_alongside(
    tmp_path, site, postgres_url, redis_broker
):
    import redis

    from crawler.config.load import load_config
    from jobs.hostlease import HostLease

    path = distributed_config(tmp_path, site, postgres_url, redis_broker, lease_wait="2s")
    config = load_config(path)
    other = HostLease(
        redis.Redis.from_url(redis_broker), f"newsmon:{config.distributed.queue}:", ttl=120
    )
    held = other.acquire([site.base_url.removeprefix("http://")], wait=1)  # another worker
    assert held is not None
    log = tmp_path / "worker.log"
    worker = start(path, "worker", "--concurrency", "1", log=log)
    try:
        scheduler = start(
            path, "run", "--dispatch", "celery", "--once", log=tmp_path / "scheduler.log"
        )
        assert scheduler.wait(60) == 0, (tmp_path / "scheduler.log").read_text()
        wait_for(lambda: "retrying in 2s" in log.read_text(), 60, "the worker to retry")
        assert site.requests == []  # the host was not crawled while leased elsewhere
        assert query(postgres_url, "select count(*) from crawl_runs") == [(0,)]
        assert held.release({}) == {site.base_url.removeprefix("http://"): True}
        wait_for(lambda: len(finished_runs(postgres_url)) == 6, 120, "six finished runs")
    finally:
        stop(worker)
    assert set(finished_runs(postgres_url).values()) == {"ok"}
    assert query(postgres_url, "select count(distinct pid) from crawl_runs") == [(1,)]


def test_batches_of_one_host_on_two_workers_take_turns_a_delay_apart(
    tmp_path, site, postgres_url, redis_broker
):
    import threading

    from crawler.config.load import load_config
    from jobs.distributed import crawl_leased, host_lease_for, lease_ttl

    delay = 1.0
    sources = SIX_SOURCES.replace(
        "    feed: {base}/feeds/rss2.xml\n",
        "    feed: {base}/feeds/rss2.xml\n    politeness: {{delay: 1s}}\n",
    ).replace(
        "    feed: {base}/feeds/atom.xml\n",
        "    feed: {base}/feeds/atom.xml\n    politeness: {{delay: 1s}}\n",
    )
    path = distributed_config(tmp_path, site, postgres_url, redis_broker, sources=sources)
    config = load_config(path)
    codes: dict[str, int | None] = {}

    def worker(name: str) -> None:  # each with a Redis client of its own, as two workers
        lease = host_lease_for(config, lease_ttl(config))
        codes[name] = crawl_leased(path, config, [name], lease, wait=60)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("rss2", "atom")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert codes == {"rss2": 0, "atom": 0}
    runs = query(
        postgres_url,
        "select r.started_at, r.finished_at, r.pid from crawl_runs r order by r.started_at",
    )
    [(first_start, first_end, first_pid), (second_start, _, second_pid)] = runs
    assert first_pid != second_pid
    # The second child started after the first ended, and a delay after it.
    assert (second_start - first_end).total_seconds() >= delay


def test_a_crawl_child_that_times_out_is_killed_with_its_whole_group(tmp_path):
    from jobs.distributed import crawl_in_child
    from storage.db import make_engine
    from storage.runs import list_runs, timed_out_last
    from tests.jobs.newssite import Layout, NewsSite

    with LocalSite() as news_site:
        news = NewsSite(news_site, Layout(feed=30))
        news.hanging.add(news.sections["feed"][-1])
        config = write_config(
            tmp_path, news_site, news.sources(["feed"]), database=f"sqlite:///{tmp_path}/n.db"
        )
        engine = make_engine(f"sqlite:///{tmp_path}/n.db")
        try:
            started = time.monotonic()
            code = crawl_in_child(config, "wire", timeout=8, engine=engine)
        finally:
            news.release()
    assert code == -signal.SIGKILL
    assert time.monotonic() - started < 20
    assert wait_for_no_children_of_ours(timeout=5) == []
    # Its run is closed as the daemon closes one, and the scheduler sends it alone from now on.
    [run] = list_runs(engine, "wire")
    assert (run.status, run.error_kinds) == ("failed", {"timeout": 1})
    assert timed_out_last(engine, ["wire"]) == {"wire"}


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
