"""The process pool that runs extraction off the event loop, so both cores extract while Scrapy fetches.

Workers do all the work a page costs besides fetching and storing (crawler/worker.py: extract,
sign, flag); each gets the run's keyword rules once, as it starts.

Its processes die with the crawl (crawler/lifeline.py): the fork server, started from the
crawl's main thread, and each worker it forks ask for SIGKILL when their parent dies. At the
end of a crawl a worker still busy is hung (every item has settled or timed out), so it is
killed, not waited for.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import forkserver

from crawler import extract, worker
from crawler.items import FetchedPage
from crawler.keywords import Matcher
from crawler.lifeline import OWNER_ENV, SERVER_ENV, die_with_parent
from crawler.siterules import SiteRules
from crawler.worker import PackedRules, Processed

log = logging.getLogger(__name__)

# Recycle workers now and then: lxml and trafilatura caches grow over long daemon lives.
TASKS_PER_WORKER = 2000
# Imported once by the fork server, so every worker forks with them loaded instead of importing
# them itself; a missing one is skipped and then imported by the worker. The first makes the
# fork server die with the crawl; the last warms it up, once for every worker.
PRELOAD = ["crawler.pool_server", "crawler.worker", "trafilatura", "numpy", "crawler.pool_warmup"]
# How long finished workers get to exit at shutdown before they count as hung.
EXIT_GRACE_S = 2.0

_pool: ProcessPoolExecutor | None = None
_pool_rules: PackedRules | None = None  # the rules the pool's workers flag with
_pool_lock = threading.Lock()
_starting = False
_packed: tuple[Matcher, PackedRules] | None = None  # packed once per matcher
_packed_lock = threading.Lock()
_inline_up_to = 0  # extract_inline: 0 always uses the pool


def extract_inline(up_to: int) -> None:
    """Extract pages in this process, on the calling thread, until one discovery lists more
    than `up_to` pages at once: then a pool starts and takes every page after. For a process
    that has the extraction stack loaded already (jobs/zygote.py): the trickle of new items a
    poll finds then costs no pool start-up (about 1 s of CPU) and no pickling, and a large
    crawl still extracts on every core."""
    global _inline_up_to
    _inline_up_to = up_to


def submit_page(
    page: FetchedPage,
    matcher: Matcher,
    extract_page: worker.Extractor = extract.extract_article,
    site_rules: SiteRules | None = None,
) -> Future[Processed]:
    """Extract, sign and flag `page` in a worker; `extract_page` must pickle by name."""
    if _inline_up_to and _pool is None and not _starting:
        return _run_inline(page, matcher, extract_page, site_rules)
    pool, rules = extraction_pool(matcher)
    # The walk and the raw response (archived here) stay: workers need only the page.
    sent = replace(page, walk=None, raw=None)
    return pool.submit(worker.process_page, sent, rules.key, extract_page, site_rules)


def _run_inline(
    page: FetchedPage,
    matcher: Matcher,
    extract_page: worker.Extractor,
    site_rules: SiteRules | None,
) -> Future[Processed]:
    rules = _packed_rules(matcher)
    worker.use_rules(rules.key, matcher)
    done: Future[Processed] = Future()
    try:
        done.set_result(worker.process_page(page, rules.key, extract_page, site_rules))
    except Exception as error:  # noqa: BLE001 - the pipeline reads it as a worker's would be
        done.set_exception(error)
    return done


def _packed_rules(matcher: Matcher) -> PackedRules:
    """`matcher` packed, once: the pool's starting thread and the pipeline ask for it at once."""
    global _packed
    with _packed_lock:
        if _packed is None or _packed[0] is not matcher:
            _packed = (matcher, PackedRules.of(matcher))
        return _packed[1]


def extraction_pool(matcher: Matcher) -> tuple[ProcessPoolExecutor, PackedRules]:
    """The process-wide pool, started on first use; its workers flag with `matcher`'s rules
    (another matcher, as in tests, restarts it)."""
    global _pool, _pool_rules
    rules = _packed_rules(matcher)
    if _pool is not None and _pool_rules is not None and _pool_rules.key != rules.key:
        shutdown_pool()
    with _pool_lock:
        if _pool is None:
            # forkserver, never fork: forking a process that runs threads (Twisted, SQLite) can
            # deadlock.
            context = _start_server()
            workers = max(1, os.cpu_count() or 1)
            _pool = ProcessPoolExecutor(
                workers,
                mp_context=context,
                max_tasks_per_child=TASKS_PER_WORKER,
                initializer=_start_worker,
                initargs=(rules,),
            )
            _pool_rules = rules
            for _ in range(workers):
                _pool.submit(extract.warm_up)
        return _pool, _pool_rules or rules


def _start_server() -> multiprocessing.context.BaseContext:
    """The fork server, started on this thread if it is not running yet."""
    os.environ[OWNER_ENV] = str(os.getpid())
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()
    return context


def _start_worker(rules: PackedRules) -> None:
    server = os.environ.get(SERVER_ENV, "")
    if server.isdigit():
        die_with_parent(int(server))
    worker.install_rules(rules)


def start_extraction_pool(matcher: Matcher, pages: int = 1) -> None:
    """Start the pool in the background (workers take ~0.5 s), so pages find it warm; not for
    `pages` that will be extracted inline (extract_inline).

    The fork server itself is started here, on the calling (main) thread: Linux sends a
    parent-death signal when the *thread* that started a process ends, and the background
    thread ends as soon as the workers are up.
    """
    global _starting
    if _pool is None and not _starting and pages > _inline_up_to:
        _starting = True
        _start_server()
        threading.Thread(
            target=extraction_pool, args=(matcher,), name="start-extraction-pool", daemon=True
        ).start()


def shutdown_pool() -> None:
    """Stop the pool: idle workers exit, a worker still busy after EXIT_GRACE_S is killed."""
    global _pool, _pool_rules, _starting
    with _pool_lock:
        pool, _pool, _pool_rules, _starting = _pool, None, None, False
    if pool is None:
        return
    # The executor offers no public handle on its processes; a hung one must not hold the exit.
    processes = list(pool._processes.values())  # noqa: SLF001
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + EXIT_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("extraction worker %s is hung; killing it", process.pid)
            process.kill()
            process.join(5)
