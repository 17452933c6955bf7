"""What rendering costs: the same local article pages crawled plainly and with `render: browser`.

Builds a local site of article pages behind a sitemap (bench/sitegen.py), crawls it with
`newsmon crawl` into a fresh SQLite database twice, politeness off: once over plain HTTP, once
with every article rendered in Chromium. Each is also run for one article (max_articles: 1), so
the start-up (Scrapy; the Playwright driver and Chromium) is told apart from the cost per page.
Prints pages/s and CPU per page (the crawl process and everything it started: extraction
workers, the Playwright driver, Chromium), for each.

    python bench/render.py --pages 100
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.proctree import own_cpu  # noqa: E402
from bench.sitegen import build_site  # noqa: E402
from tests.localsite import LocalSite  # noqa: E402

CONFIG = """\
database: sqlite:///{db}
sources:
  - name: bench
    sitemap: {base}/sitemap.xml
    max_articles: {articles}
    render: {render}
politeness:
  delay: 0s
  concurrency_per_host: 8
  autothrottle: false
  obey_robots: false
"""
MODES = {"plain": "http", "rendered": "{articles: browser, max_pages: 10000}"}


def crawl(site: LocalSite, workdir: Path, mode: str, articles: int) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the crawl's whole process tree, items stored."""
    db = workdir / f"{mode}-{articles}.db"
    config = workdir / f"{mode}-{articles}.yaml"
    text = CONFIG.format(db=db, base=site.base_url, render=MODES[mode], articles=articles)
    config.write_text(text)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "--config", str(config), "crawl"],
        cwd=Path(__file__).resolve().parents[1],
    )
    cpu: dict[int, float] = {}
    while child.poll() is None:
        cpu.update(own_cpu(child.pid))
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"newsmon crawl ({mode}) exited {child.returncode}")
    with sqlite3.connect(db) as connection:
        (stored,) = connection.execute("select count(*) from items").fetchone()
    return elapsed, sum(cpu.values()), stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        build_site(workdir / "site", args.pages)
        with LocalSite(workdir / "site") as site:
            one = {mode: crawl(site, workdir, mode, 1) for mode in MODES}
            many = {mode: crawl(site, workdir, mode, args.pages) for mode in MODES}
    print(f"cores: {os.cpu_count()}   pages: {args.pages}")
    per_page = {}
    for mode in MODES:
        (wall_1, cpu_1, _), (wall, cpu, stored) = one[mode], many[mode]
        if stored != args.pages:
            raise SystemExit(f"{mode}: stored {stored} of {args.pages} pages")
        extra = stored - 1
        per_page[mode] = ((wall - wall_1) / extra, (cpu - cpu_1) / extra)
        print(
            f"{mode:<9} whole command {wall:6.1f} s, {cpu:6.1f} s CPU; start-up {wall_1:5.1f} s,"
            f" {cpu_1:5.1f} s CPU; then {extra / (wall - wall_1):6.1f} pages/s,"
            f" {per_page[mode][1] * 1000:6.1f} ms CPU per page"
        )
    (plain_s, plain_cpu), (rendered_s, rendered_cpu) = per_page["plain"], per_page["rendered"]
    print(
        f"rendered/plain, per page: {rendered_s / plain_s:.1f}x the time,"
        f" {rendered_cpu / plain_cpu:.1f}x the CPU"
    )


if __name__ == "__main__":
    main()
