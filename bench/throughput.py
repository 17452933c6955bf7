"""Pipeline throughput against bare trafilatura.

Builds a local site of realistic article pages, crawls it with `newsmon crawl` into a fresh
SQLite database (politeness off, so it measures the pipeline and not the waiting), then times
bare `trafilatura.extract` over the same HTML in one process. Prints pages/s and the ratio.

    python bench/throughput.py --pages 1000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sitegen import build_site  # noqa: E402
from tests.localsite import LocalSite  # noqa: E402

CONFIG = """\
database: sqlite:///bench.db
sources:
  - name: bench
    sitemap: {base}/sitemap.xml
    max_articles: 100000
politeness:
  delay: 0s
  concurrency_per_host: 32
  autothrottle: false
  obey_robots: false
keywords:
  - Pakistan-US
"""


def crawl(site_root: Path, workdir: Path) -> tuple[float, float, int, dict[str, float]]:
    """Wall time of the whole command, time from first to last stored item, items stored, and
    CPU seconds by role (the crawl process, its extraction workers, the local server)."""
    with LocalSite(site_root) as site:
        config = workdir / "config.yaml"
        config.write_text(CONFIG.format(base=site.base_url))
        started, server_before = time.perf_counter(), time.process_time()
        child = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "--config", str(config), "crawl"],
            cwd=Path(__file__).resolve().parents[1],
        )
        cpu: dict[int, float] = {}
        while child.poll() is None:
            cpu.update(_tree_cpu(child.pid))
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        if child.returncode != 0:
            raise SystemExit(f"newsmon crawl exited {child.returncode}")
        roles = {
            "crawl process": cpu.pop(child.pid, 0.0),
            "extraction workers": sum(cpu.values()),
            "local server": time.process_time() - server_before,
        }
    with sqlite3.connect(workdir / "bench.db") as db:
        stored, first, last = db.execute(
            "select count(*), min(fetched_at), max(fetched_at) from items"
        ).fetchone()
    steady = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return elapsed, steady, stored, roles


def _tree_cpu(root: int) -> dict[int, float]:
    """User+system CPU seconds of `root` and its descendants, from /proc (Linux)."""
    parents, cpu = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parents.get(pid, 1)
        return False

    return {pid: seconds for pid, seconds in cpu.items() if descends(pid)}


def bare_extraction(files: list[Path]) -> float:
    import trafilatura

    pages = [
        (f"http://127.0.0.1/news/{path.name}", path.read_text(encoding="utf-8")) for path in files
    ]
    # The options newsmon extracts with (crawler/extract.py), so both sides do the same work.
    options = {"with_metadata": True, "include_comments": False, "favor_precision": True}
    trafilatura.extract(pages[0][1], url=pages[0][0], **options)  # warm up, as the pool does
    started = time.perf_counter()
    for url, html in pages:
        trafilatura.extract(html, url=url, **options)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = build_site(workdir / "site", args.pages)
        crawl_s, steady_s, stored, roles = crawl(workdir / "site", workdir)
        bare_s = bare_extraction(files)
    crawl_rate, bare_rate = stored / crawl_s, args.pages / bare_s
    print(f"cores:                 {os.cpu_count()}")
    print(f"pages:                 {args.pages} (stored {stored})")
    print(
        f"newsmon crawl:         {crawl_s:6.2f} s  {crawl_rate:7.1f} pages/s  (whole command, start-up included)"
    )
    print(
        f"  steady state:        {steady_s:6.2f} s  {stored / steady_s:7.1f} pages/s  (first to last stored item)"
    )
    print(f"bare trafilatura:      {bare_s:6.2f} s  {bare_rate:7.1f} pages/s  (one process)")
    print("CPU per page, by role (what two cores have to share):")
    for role, seconds in roles.items():
        print(f"  {role + ':':<21} {seconds / stored * 1000:6.2f} ms")
    print(f"  {'bare trafilatura:':<21} {bare_s / args.pages * 1000:6.2f} ms")
    print(f"ratio crawl/bare:      {crawl_rate / bare_rate:.2f}x  (target >= 1.6x)")


if __name__ == "__main__":
    main()
