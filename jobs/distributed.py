"""Distributed mode: crawl jobs run by Celery workers, with Redis as the broker.

Needs the `distributed` extra (`pip install newsmon[distributed]`). Each scheduler tick hands
its due sources to the workers in batches (batches_by_host): at most MAX_BATCH_SOURCES a task,
the sources of one host never split between two, and a source whose last run was killed at
`run_timeout` in a batch of its own, so a source that hangs never again holds the others'
runs until the kill. A worker runs a batch the way the daemon does:
one `newsmon crawl --source A --source B …` child with a timeout (it polls them all and starts
Scrapy only for the changed), so the worker keeps no crawl state. Before the child starts the
worker leases the batch's hosts in Redis (jobs/hostlease.py), so two workers never crawl a host
at once. Tasks are acknowledged late: a worker killed mid-crawl leaves its task to be delivered
again to another worker, and the source lock plus ON CONFLICT keep the second attempt from
storing anything twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from crawler.config.load import load_config
from crawler.config.models import Config, Source
from crawler.lifeline import PARENT_ENV
from crawler.urls import host_key
from jobs.daemon import MAX_BATCH_SOURCES
from jobs.exits import EXIT_LOCKED
from jobs.hostlease import HostLease
from jobs.schedule import interval_of
from storage import runs
from storage.clock import utcnow
from storage.db import make_engine

log = logging.getLogger(__name__)

TASK_NAME = "newsmon.crawl_source"  # one source a task: still served for tasks queued before
BATCH_TASK_NAME = "newsmon.crawl_batch"
# A lease outlives the child's run_timeout by this much (the kill, the group's exit).
LEASE_MARGIN_S = 10.0


class DistributedUnavailable(RuntimeError):
    """Distributed mode was asked for, but Celery is missing or not configured."""


def make_app(config: Config) -> Any:
    """The Celery app for this config's broker and queue."""
    if config.distributed is None:
        raise DistributedUnavailable("the config has no `distributed:` section (broker URL)")
    try:
        from celery import Celery
    except ImportError:
        raise DistributedUnavailable(
            "distributed mode needs Celery: pip install 'newsmon[distributed]'"
        ) from None
    settings = config.distributed
    app = Celery("newsmon", broker=settings.broker, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # An unacknowledged task goes back to the queue after this long: the crash-recovery delay.
        broker_transport_options={"visibility_timeout": int(settings.redelivery_after)},
    )
    return app


def batches_by_host(sources: Sequence[Source], size: int = MAX_BATCH_SOURCES) -> list[list[str]]:
    """The names of `sources` in batches of at most `size`, the sources of a host in one batch:
    one worker, one child, one budget. A host with more than `size` is split into batches of
    its own, which take turns by its host lease (jobs/hostlease.py).

    Hosts go largest first, each into the fullest batch it still fits (best fit decreasing),
    in constant time a host: 100,000 sources are packed as fast as 100.
    """
    by_host: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        by_host[host_key(source.url)].append(source.name)
    batches: list[list[str]] = []
    with_room: dict[int, list[list[str]]] = defaultdict(list)  # by the places left in them
    for _, names in sorted(by_host.items(), key=lambda entry: (-len(entry[1]), entry[0])):
        if len(names) >= size:
            batches.extend(names[start : start + size] for start in range(0, len(names), size))
            continue
        room = next((left for left in range(len(names), size) if with_room[left]), None)
        if room is None:
            batch: list[str] = []
            batches.append(batch)
            room = size
        else:
            batch = with_room[room].pop()
        batch.extend(names)
        if room > len(names):
            with_room[room - len(names)].append(batch)
    return batches


def dispatcher_for(config: Config) -> Callable[[Sequence[str], Config | None], None]:
    """What the scheduler calls with a tick's due sources in distributed mode: enqueue them in
    batches (batches_by_host), one task each, with the config the daemon runs now (or this one).

    A task expires when its sources' next run is due (the batch's shortest interval): while no
    worker is up, crawls do not pile up to run back to back later; the next one covers them.
    """
    app = make_app(config)
    engine = make_engine(config.database)

    def enqueue(names: Sequence[str], current: Config | None = None) -> None:
        current = current or config
        now = utcnow()
        try:
            alone = runs.timed_out_last(engine, names)
        except SQLAlchemyError as error:  # the database must not stop the crawls
            log.warning("could not read which sources timed out last: %s", error)
            alone = set()
        sources = [current.source(name) for name in names if name not in alone]
        for batch in [*batches_by_host(sources), *([name] for name in sorted(alone))]:
            expires = min(interval_of(current.schedule_for(current.source(n)), now) for n in batch)
            app.send_task(BATCH_TASK_NAME, args=[batch], expires=expires)

    return enqueue


def host_lease_for(config: Config, ttl: float) -> HostLease | None:
    """The host leases, in the broker's Redis under `newsmon:<queue>:` (None on AMQP)."""
    assert config.distributed is not None
    broker = config.distributed.broker
    if not broker.startswith(("redis://", "rediss://")):
        log.warning("host leases need a Redis broker; workers may crawl one host at once")
        return None
    import redis

    client = redis.Redis.from_url(broker)
    return HostLease(client, f"newsmon:{config.distributed.queue}:", ttl)


def run_worker(config_path: Path, concurrency: int, log_level: str = "INFO") -> int:
    """Start a Celery worker that crawls the batches it is sent (blocks until stopped)."""
    config = load_config(config_path)
    app = make_app(config)
    assert config.distributed is not None  # make_app checked it
    queue, wait = config.distributed.queue, config.distributed.lease_wait
    lease = host_lease_for(config, lease_ttl(config))
    engine = make_engine(config.database)

    def crawl(task: Any, names: list[str]) -> int:
        code = crawl_leased(config_path, config, names, lease, wait, engine)
        if code is None:
            log.info("a host of %s is leased by another worker; retrying in %gs", names, wait)
            raise task.retry(countdown=wait)
        return code

    app.task(name=BATCH_TASK_NAME, bind=True, max_retries=None)(crawl)

    @app.task(name=TASK_NAME, bind=True, max_retries=None)
    def crawl_source(task: Any, source: str) -> int:
        return crawl(task, [source])

    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--loglevel={log_level}",
            f"--queues={queue}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


def lease_ttl(config: Config) -> float:
    """A lease lives past the longest its holder can crawl: the gap wait, then run_timeout."""
    longest_gap = max((config.politeness_for(s).delay for s in config.sources), default=0.0)
    return longest_gap + config.daemon.run_timeout + LEASE_MARGIN_S


def crawl_leased(
    config_path: Path,
    config: Config,
    names: Sequence[str],
    lease: HostLease | None,
    wait: float,
    engine: Engine | None = None,
) -> int | None:
    """Crawl `names` in one child while holding their hosts' leases; None if another worker
    kept one of them past `wait` seconds (the task is to be retried, not crawled alongside)."""
    sources = []
    for name in names:
        try:
            sources.append(config.source(name))
        except KeyError:
            log.error("task for unknown source %r ignored (not in %s)", name, config_path)
    if not sources:
        return 2
    timeout = config.daemon.run_timeout
    if lease is None:
        return crawl_in_child(config_path, [s.name for s in sources], timeout, engine)
    gaps: dict[str, float] = {}
    for source in sources:
        host = host_key(source.url)
        gaps[host] = max(gaps.get(host, 0.0), config.politeness_for(source).delay)
    held = lease.acquire(gaps, wait)
    if held is None:
        return None
    try:
        held.wait_free()  # the previous holder's last request was at least `delay` ago
        return crawl_in_child(config_path, [s.name for s in sources], timeout, engine)
    finally:
        lost = [host for host, ours in held.release(gaps).items() if not ours]
        if lost:
            log.warning("lease of %s expired during the crawl (ttl too short?)", lost)


def crawl_in_child(
    config_path: Path, names: str | Sequence[str], timeout: float, engine: Engine | None = None
) -> int:
    """`newsmon crawl --source A --source B …` in a session of its own that dies with this
    worker; its whole process group is killed when it ends or times out. The runs a killed
    child left running are closed in `engine` as failed, of kind timeout (as the daemon does)."""
    names = [names] if isinstance(names, str) else list(names)
    command = [sys.executable, "-m", "jobs.cli", "--config", str(config_path), "crawl"]
    command += [argument for name in names for argument in ("--source", name)]
    label = ", ".join(names)  # for the log lines
    # A killed worker leaves no crawl running on (crawler/lifeline.py): its task is
    # redelivered and crawled again elsewhere.
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("source %s: crawl exceeded %gs; killing it", label, timeout)
        _kill_group(child.pid)
        code = child.wait()
        if engine is not None:
            runs.end_running_runs(
                engine,
                child.pid,
                status="failed",
                kind="timeout",
                error_text=f"killed after run_timeout ({timeout:g}s)",
            )
    finally:
        _kill_group(child.pid)  # what it left behind, if anything
    if code == EXIT_LOCKED:
        log.info("source %s: another crawl holds a lock; what it held was skipped", label)
    return code


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
