"""Processes that die with the one they work for, even when it is killed with SIGKILL.

- Extraction pool processes (crawler/pool.py): the fork server and each worker ask Linux for
  SIGKILL when their parent dies (PR_SET_PDEATHSIG). The fork server is started from the
  crawl's main thread, because the signal follows the thread that started a process.
- A crawl child of the daemon's zygote (jobs/zygote.py) or of a Celery worker
  (NEWSMON_PARENT_PID set): a thread watches that parent and kills the crawl's whole process
  group when it dies. The zygote itself dies with the daemon (PR_SET_PDEATHSIG).

Elsewhere than Linux these do nothing; the waiting side's process-group kill still applies.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PARENT_ENV = "NEWSMON_PARENT_PID"  # set by whoever waits for a crawl child
# Here, not in crawler/pool_server.py: importing that loads the language model, which the crawl
# process that sets these has no use for.
OWNER_ENV = "NEWSMON_POOL_OWNER"  # the crawl process: set by crawler/pool.py
SERVER_ENV = "NEWSMON_POOL_SERVER"  # the pool's fork server: read by each worker


def die_with_parent(expected_parent: int | None = None) -> None:
    """SIGKILL this process when its parent dies; exit now if it already has (the parent is
    no longer `expected_parent`). Call it in a single-threaded process, early."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent died before the request took effect


def watch_parent_from_env() -> None:
    """If NEWSMON_PARENT_PID names a live process, kill this process group when it dies."""
    value = os.environ.get(PARENT_ENV, "")
    if not value.isdigit():
        return
    parent = int(value)
    if os.getppid() != parent:  # it died already (or this is not its child): nothing to serve
        _kill_own_group()
    threading.Thread(
        target=_watch, args=(parent,), name="newsmon-parent-watch", daemon=True
    ).start()


def _watch(parent: int) -> None:
    try:
        descriptor = os.pidfd_open(parent)
    except (AttributeError, OSError):
        while os.getppid() == parent:  # no pidfd: poll, once a second
            time.sleep(1.0)
    else:
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        poller.poll()  # readable once the process has exited
    _kill_own_group()


def _kill_own_group() -> None:
    # Only a group of our own (the daemon and the Celery worker start one per crawl); never
    # the group of a shell that started us.
    with contextlib.suppress(OSError):
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
