"""Distributed mode: crawl jobs run by Celery workers, with Redis as the broker.

Needs the `distributed` extra (`pip install newsmon[distributed]`). A worker executes each job
the way the daemon does: `newsmon crawl --source NAME` in a child process with a timeout, so
the worker keeps no crawl state. Tasks are acknowledged late: a worker killed mid-crawl leaves
its task to be delivered again to another worker, and the source lock plus ON CONFLICT keep
the second attempt from storing anything twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.config.load import load_config
from crawler.config.models import Config
from crawler.lifeline import PARENT_ENV
from jobs.exits import EXIT_LOCKED
from jobs.schedule import interval_of
from storage.clock import utcnow

log = logging.getLogger(__name__)

TASK_NAME = "newsmon.crawl_source"


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


def dispatcher_for(config: Config) -> Callable[[str], None]:
    """What the scheduler calls for a due source in distributed mode: enqueue its crawl.

    A task expires when the source's next run is due: while no worker is up, crawls of one
    source do not pile up to run back to back later; the next one covers what they would.
    """
    app = make_app(config)

    def enqueue(source: str) -> None:
        schedule = config.schedule_for(config.source(source))
        app.send_task(TASK_NAME, args=[source], expires=interval_of(schedule, utcnow()))

    return enqueue


def run_worker(config_path: Path, concurrency: int, log_level: str = "INFO") -> int:
    """Start a Celery worker that crawls the sources it is sent (blocks until stopped)."""
    config = load_config(config_path)
    app = make_app(config)
    assert config.distributed is not None  # make_app checked it
    queue, timeout = config.distributed.queue, config.daemon.run_timeout

    @app.task(name=TASK_NAME)
    def crawl_source(source: str) -> int:
        try:
            config.source(source)
        except KeyError:
            log.error("task for unknown source %r ignored (not in %s)", source, config_path)
            return 2
        return crawl_in_child(config_path, source, timeout)

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


def crawl_in_child(config_path: Path, source: str, timeout: float) -> int:
    """`newsmon crawl --source NAME` in a session of its own that dies with this worker; its
    whole process group is killed when it ends or times out."""
    command = [
        sys.executable,
        "-m",
        "jobs.cli",
        "--config",
        str(config_path),
        "crawl",
        "--source",
        source,
    ]
    # A killed worker leaves no crawl running on (crawler/lifeline.py): its task is
    # redelivered and crawled again elsewhere.
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("source %s: crawl exceeded %gs; killing it", source, timeout)
        _kill_group(child.pid)
        code = child.wait()
    finally:
        _kill_group(child.pid)  # what it left behind, if anything
    if code == EXIT_LOCKED:
        log.info("source %s: another crawl holds its lock; nothing to do", source)
    return code


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
