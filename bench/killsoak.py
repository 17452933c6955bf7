"""Kill soak: first crawls SIGKILLed at random points, then clean runs. Is anything lost?

A local site of 540 realistic article pages (bench/sitegen.py) in three sections, each behind
one discovery mode: a feed (100 articles), a sitemap index of 4 child sitemaps (200) and a
20-page listing (240). First, one uninterrupted crawl into a scratch database shows what a
crawl stores and how long it takes. Then N rounds (default 10) start `newsmon crawl` on the
real database, never yet crawled to the end, and SIGKILL it at a random point: during
start-up and discovery (a random moment in the first seconds), or once a random number of
the articles still missing are stored. The kill goes to the whole process group or, at
random, to the crawl process alone (as the OOM killer does). After each kill the bench waits
up to 5 s for every process of that crawl's session to be gone and counts the ones that are
not. Then clean crawls run until one stores nothing new.

It prints stored/served, duplicates, the clean runs it took to catch up and the surviving
processes. Targets: every article page stored, 0 duplicates, caught up within 2 clean runs
(the second reports nothing new), no surviving process.

The bench makes itself a child subreaper (Linux), so a process a killed crawl leaves behind
is reparented to it rather than to init: such survivors are counted, killed and reaped, and
the CPU figure covers the whole process tree (crawls, fork servers, workers, and survivors).

    python bench/killsoak.py [--rounds 10] [--seed 1] [--early 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.proctree import become_subreaper, reap_orphans  # noqa: E402
from bench.sitegen import article_html  # noqa: E402
from tests.faults.child import start_newsmon  # noqa: E402
from tests.jobs.helpers import newsmon, write_config  # noqa: E402
from tests.jobs.newssite import Layout, NewsSite  # noqa: E402
from tests.localsite import LocalSite  # noqa: E402
from tests.processes import kill_session, wait_until_gone  # noqa: E402

LAYOUT = Layout(feed=100, sitemap_children=4, per_sitemap=50, listing_pages=20, per_page=12)
SURVIVOR_WAIT_S = 5.0
MAX_CLEAN_RUNS = 5


def realistic_page(_title: str, number: int, rng: random.Random) -> str:
    return article_html(number, rng)[1]


def stored(db: Path) -> tuple[int, int, set[str]]:
    """(rows, distinct url_keys, paths) of the stored items."""
    try:
        with sqlite3.connect(db) as connection:
            urls = [url for (url,) in connection.execute("select url from items")]
            [(keys,)] = connection.execute("select count(distinct url_key) from items").fetchall()
    except sqlite3.OperationalError:  # no schema yet
        return 0, 0, set()
    return len(urls), keys, {"/" + url.split("/", 3)[3] for url in urls}


def killed_round(
    config: Path, db: Path, rng: random.Random, served: int, early: float, rounds_left: int
) -> tuple[str, int]:
    """One crawl, SIGKILLed at a random point; (what happened, survivors).

    A kill after storing takes a random share of what is missing, about one in `rounds_left`
    on average, so the last rounds still have a first crawl's work to interrupt.
    """
    alone = rng.random() < 0.5
    now = stored(db)[0]
    missing = served - now
    if rng.random() < 0.25 or missing < 2:
        delay, target = rng.uniform(0.3, early), None  # start-up, discovery, first fetches
    else:
        share = max(1, 2 * missing // (rounds_left + 1))
        delay, target = 3600.0, now + rng.randint(1, min(share, missing - 1))
    started = time.monotonic()
    child = start_newsmon(config, "crawl")
    while child.poll() is None and time.monotonic() - started < delay:
        if target is not None and stored(db)[0] >= target:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    if child.poll() is not None:
        what = f"finished before its kill (exit {child.returncode}, {elapsed:.1f}s)"
    else:
        if alone:
            os.kill(child.pid, signal.SIGKILL)
        else:
            os.killpg(child.pid, signal.SIGKILL)
        point = f"at {elapsed:.1f}s" + (f", once {target} were stored" if target else "")
        what = f"SIGKILL to the {'crawl alone' if alone else 'process group'} {point}"
    child.wait(timeout=60)  # the crawl itself; what it left may still hold its pipes
    survivors = wait_until_gone(child.pid, SURVIVOR_WAIT_S)
    kill_session(child.pid)
    child.communicate(timeout=60)
    reap_orphans()
    return what, len(survivors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--early", type=float, default=3.0, help="latest start-up kill, seconds")
    args = parser.parse_args()
    subreaper = become_subreaper()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, LocalSite() as site:
        news = NewsSite(site, LAYOUT, make_page=realistic_page, seed=args.seed)
        served = set(news.paths())
        # max_articles above the site's size: one uninterrupted crawl stores everything.
        sources = news.sources(extra="    max_articles: 1000\n")
        print(
            f"site: {len(served)} article pages (feed {LAYOUT.feed}, sitemap index"
            f" {LAYOUT.sitemap_children}x{LAYOUT.per_sitemap}, listing"
            f" {LAYOUT.listing_pages}x{LAYOUT.per_page}); seed {args.seed}"
        )
        scratch = Path(tmp) / "uninterrupted"
        scratch.mkdir()
        begun = time.monotonic()
        baseline = newsmon(write_config(scratch, site, sources), "crawl", timeout=1800)
        print(
            f"uninterrupted crawl (scratch database): exit {baseline.returncode},"
            f" {stored(scratch / 'newsmon.db')[0]} stored in {time.monotonic() - begun:.1f}s"
        )
        config = write_config(Path(tmp), site, sources)
        db = Path(tmp) / "newsmon.db"
        survivors_total = 0
        for number in range(1, args.rounds + 1):
            rounds_left = args.rounds - number + 1
            what, survivors = killed_round(config, db, rng, len(served), args.early, rounds_left)
            survivors_total += survivors
            rows, _, _ = stored(db)
            print(f"round {number:2}: {what}; {rows} stored now; {survivors} processes survived")
        missing_after_kills = len(served - stored(db)[2])
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
        reap_orphans()
        rows, keys, paths = stored(db)
        missing = served - paths
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print()
    print(f"stored/served:        {len(paths & served)}/{len(served)}  (missing {len(missing)})")
    print(f"duplicates:           {rows - keys}")
    print(f"missing after kills:  {missing_after_kills}  (what the clean runs had to catch up)")
    if caught_up_after is None:
        clean = f"still storing after {MAX_CLEAN_RUNS}"
    elif missing:
        clean = f"{caught_up_after}, and still {len(missing)} missing: lost for good"
    else:
        clean = f"{caught_up_after} (the last stored nothing new)"
    print(f"clean runs to catch up: {clean}  (target <= 2)")
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
