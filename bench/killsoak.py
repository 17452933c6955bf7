"""Kill soak: first crawls SIGKILLed at random points, then clean runs. Is anything lost?

A local site of 540 realistic article pages (bench/sitegen.py) in three sections, each behind
one discovery mode: a feed (100 articles), a sitemap index of 4 child sitemaps (200) and a
20-page listing (240). N rounds (default 10) start `newsmon crawl` on an empty database and
SIGKILL it after a random delay: the whole process group, or, every other time at random,
the crawl process alone (as the OOM killer does). After each kill the bench waits up to 5 s
for every process of that crawl's session to be gone and counts the ones that are not. Then
clean crawls run until one stores nothing new.

It prints stored/served, duplicates, the clean runs it took to catch up and the surviving
processes. Targets: every article page stored, 0 duplicates, caught up within 2 clean runs
(the second reports nothing new), no surviving process.

The bench makes itself a child subreaper (Linux), so a process a killed crawl leaves behind
is reparented to it rather than to init: such survivors are counted, killed and reaped, and
the CPU figure covers the whole process tree (crawls, fork servers, workers, and survivors).

    python bench/killsoak.py [--rounds 10] [--seed 1] [--max-delay 20]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.sitegen import article_html  # noqa: E402
from jobs.localsite import LocalSite  # noqa: E402
from tests.faults.child import start_newsmon  # noqa: E402
from tests.jobs.helpers import newsmon, write_config  # noqa: E402
from tests.jobs.newssite import Layout, NewsSite  # noqa: E402
from tests.processes import kill_session, wait_until_gone  # noqa: E402

LAYOUT = Layout(feed=100, sitemap_children=4, per_sitemap=50, listing_pages=20, per_page=12)
PR_SET_CHILD_SUBREAPER = 36
SURVIVOR_WAIT_S = 5.0
MAX_CLEAN_RUNS = 5


def realistic_page(_title: str, number: int, rng: random.Random) -> str:
    return article_html(number, rng)[1]


def become_subreaper() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap() -> None:
    """Collect every exited child (orphans reparented to us included), for their CPU."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stored(db: Path) -> tuple[int, int, set[str]]:
    """(rows, distinct url_keys, paths) of the stored items."""
    try:
        with sqlite3.connect(db) as connection:
            urls = [url for (url,) in connection.execute("select url from items")]
            [(keys,)] = connection.execute("select count(distinct url_key) from items").fetchall()
    except sqlite3.OperationalError:  # no schema yet
        return 0, 0, set()
    return len(urls), keys, {"/" + url.split("/", 3)[3] for url in urls}


def killed_round(config: Path, db: Path, rng: random.Random, max_delay: float) -> tuple[str, int]:
    """One first crawl, SIGKILLed after a random delay; (what happened, survivors)."""
    delay = rng.uniform(0.3, max_delay)
    alone = rng.random() < 0.5
    child = start_newsmon(config, "crawl")
    try:
        child.wait(delay)
        what = f"finished before its kill at {delay:.1f}s (exit {child.returncode})"
    except subprocess.TimeoutExpired:
        if alone:
            os.kill(child.pid, signal.SIGKILL)
        else:
            os.killpg(child.pid, signal.SIGKILL)
        what = f"SIGKILL to the {'crawl alone' if alone else 'process group'} at {delay:.1f}s"
    child.communicate(timeout=60)
    survivors = wait_until_gone(child.pid, SURVIVOR_WAIT_S)
    kill_session(child.pid)
    reap()
    return what, len(survivors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=20.0, help="latest kill, seconds")
    args = parser.parse_args()
    subreaper = become_subreaper()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, LocalSite() as site:
        news = NewsSite(site, LAYOUT, make_page=realistic_page, seed=args.seed)
        served = set(news.paths())
        # max_articles above the site's size: one uninterrupted crawl stores everything.
        config = write_config(Path(tmp), site, news.sources(extra="    max_articles: 1000\n"))
        db = Path(tmp) / "newsmon.db"
        print(
            f"site: {len(served)} article pages (feed {LAYOUT.feed}, sitemap index"
            f" {LAYOUT.sitemap_children}x{LAYOUT.per_sitemap}, listing"
            f" {LAYOUT.listing_pages}x{LAYOUT.per_page}); seed {args.seed}"
        )
        survivors_total = 0
        for number in range(1, args.rounds + 1):
            what, survivors = killed_round(config, db, rng, args.max_delay)
            survivors_total += survivors
            rows, _, _ = stored(db)
            print(f"round {number:2}: {what}; {rows} stored so far; {survivors} processes survived")
        caught_up_after = None
        for clean_runs in range(1, MAX_CLEAN_RUNS + 1):
            before = stored(db)[0]
            result = newsmon(config, "crawl", timeout=1800)
            rows = stored(db)[0]
            summary = " | ".join(line.split("  pages=")[0] for line in result.stdout.splitlines())
            print(f"clean run {clean_runs}: exit {result.returncode}, +{rows - before} ({summary})")
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
            if rows == before:
                caught_up_after = clean_runs
                break
        reap()
        rows, keys, paths = stored(db)
        missing = served - paths
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print()
    print(f"stored/served:        {len(paths & served)}/{len(served)}  (missing {len(missing)})")
    print(f"duplicates:           {rows - keys}")
    print(
        "clean runs to catch up: "
        + (
            f"{caught_up_after} (the last stored nothing new)"
            if caught_up_after
            else "not caught up"
        )
        + "  (target <= 2)"
    )
    print(f"surviving processes:  {survivors_total}  (after {args.rounds} kills; target 0)")
    print(
        f"CPU, whole tree:      {children.ru_utime + children.ru_stime:.1f} s"
        + ("" if subreaper else " (not a subreaper: orphans not counted)")
        + f"; wall {time.monotonic() - started:.0f} s"
    )
    if missing:
        print("missing:", ", ".join(sorted(missing)[:10]), "…" if len(missing) > 10 else "")
    ok = not missing and rows == keys and caught_up_after is not None and caught_up_after <= 2
    print("PASS" if ok and survivors_total == 0 else "FAIL")


if __name__ == "__main__":
    main()
