"""One Celery worker against two: wall time to crawl a 300-page site split into 50 sources, each
on a host of its own (a port of its own on 127.0.0.1), so that the scheduler's batches (25
sources at most, a host never split) make two tasks for the workers to share.

Needs the services the tests use: PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379.

    python bench/scaleout.py --pages 300
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.sitegen import build_site  # noqa: E402
from tests.localsite import LocalSite  # noqa: E402
from tests.services import throwaway_database, throwaway_schema  # noqa: E402

SOURCES = 50  # two batches of 25
REPO = Path(__file__).resolve().parents[1]


def split_sitemap(root: Path, sources: int) -> None:
    """`sources` sitemaps, each listing its share of the articles."""
    urls = sorted((root / "news").glob("*.html"))
    for n in range(sources):
        locs = "".join(
            f"<url><loc>{{{{BASE}}}}/news/{path.name}</loc></url>" for path in urls[n::sources]
        )
        (root / f"sitemap-{n}.xml").write_text(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        )


def config_text(bases: list[str], database: str, queue: str) -> str:
    sources = "".join(
        f"  - name: part{n}\n    sitemap: {base}/sitemap-{n}.xml\n    max_articles: 10000\n"
        for n, base in enumerate(bases)
    )
    return (
        f"database: {database}\nsources:\n{sources}"
        "politeness: {delay: 0s, concurrency_per_host: 16, autothrottle: false, obey_robots: false}\n"
        "keywords: [Pakistan-US]\nschedule: {every: 1h}\n"
        f"distributed: {{broker: 'redis://127.0.0.1:6379/14', queue: {queue}}}\n"
    )


def timed_run(workers: int, sites: list[LocalSite], database: str, workdir: Path) -> float:
    config = workdir / f"config-{workers}.yaml"
    bases = [site.base_url for site in sites]
    config.write_text(config_text(bases, database, f"bench-{uuid.uuid4().hex[:8]}"))
    command = [sys.executable, "-m", "jobs.cli", "--config", str(config)]
    processes = [
        subprocess.Popen(
            [*command, "worker", "--concurrency", "1"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    time.sleep(3)  # let the workers connect before the clock starts
    engine = create_engine(database)
    started = time.perf_counter()
    subprocess.run(
        [*command, "run", "--dispatch", "celery", "--once"],
        cwd=REPO,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            with engine.connect() as connection:
                done = connection.execute(
                    text(
                        "select count(*) from crawl_runs where status not in ('running', 'interrupted')"
                    )
                ).scalar()
            if done >= SOURCES:
                break
            time.sleep(0.2)
        return time.perf_counter() - started
    finally:
        engine.dispose()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_database() as pg:
        workdir = Path(tmp)
        build_site(workdir / "site", args.pages)
        split_sitemap(workdir / "site", SOURCES)
        results = {}
        with contextlib.ExitStack() as stack:
            sites = [stack.enter_context(LocalSite(workdir / "site")) for _ in range(SOURCES)]
            for workers in (1, 2):
                with throwaway_schema(pg) as database:
                    results[workers] = timed_run(workers, sites, database, workdir)
    print(
        f"cores: {os.cpu_count()}, pages: {args.pages} in {SOURCES} sources on as many hosts,"
        " store: PostgreSQL"
    )
    for workers, seconds in results.items():
        print(f"{workers} worker(s): {seconds:6.2f} s  {args.pages / seconds:6.1f} pages/s")
    print(f"speed-up with two workers: {results[1] / results[2]:.2f}x")


if __name__ == "__main__":
    main()
