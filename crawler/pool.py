"""The process pool that runs extraction off the event loop, so both cores extract while Scrapy fetches."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from crawler import extract

# Recycle workers now and then: lxml and trafilatura caches grow over long daemon lives.
TASKS_PER_WORKER = 2000
# Imported once by the fork server, so every worker forks with them loaded instead of importing
# them itself; a missing one is skipped and then imported by the worker.
PRELOAD = ["crawler.extract", "trafilatura", "storage.minhash", "datasketch"]

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def extraction_pool() -> ProcessPoolExecutor:
    """The process-wide pool, started on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            # forkserver, never fork: forking a process that runs threads (Twisted, SQLite) can
            # deadlock.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            workers = max(1, os.cpu_count() or 1)
            _pool = ProcessPoolExecutor(
                workers, mp_context=context, max_tasks_per_child=TASKS_PER_WORKER
            )
            for _ in range(workers):
                _pool.submit(extract.warm_up)
    return _pool


def start_extraction_pool() -> None:
    """Start the pool in the background (workers take ~0.5 s), so pages find it warm."""
    if _pool is None:
        threading.Thread(target=extraction_pool, name="start-extraction-pool", daemon=True).start()


def shutdown_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
