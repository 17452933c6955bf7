"""Daemon memory over many runs: `python bench/daemon_memory.py [--runs 100] [--sources 4]`.

Starts `newsmon run` against the bundled demo site on 127.0.0.1 with `every: 1s` schedules,
and prints the daemon's resident memory (VmRSS, children excluded) at run 10 and at run N.
Target: growth under 10%.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.localsite import LocalSite  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def finished_runs(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute(
                "select count(*) from crawl_runs where status != 'running'"
            ).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--sources", type=int, default=4)
    args = parser.parse_args()
    with LocalSite(REPO / "jobs" / "demo_site") as site, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        sources = "".join(
            f"  - name: demo{n}\n    feed: {site.base_url}/feed.xml\n" for n in range(args.sources)
        )
        config.write_text(
            "database: sqlite:///newsmon.db\nsources:\n" + sources + "schedule: {every: 1s}\n"
            f"daemon: {{max_parallel: {args.sources}, run_timeout: 60s}}\n"
            "politeness: {delay: 0s, autothrottle: false}\nkeywords: [Pakistan-US]\n"
        )
        db = Path(tmp) / "newsmon.db"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("NEWSMON_DATABASE_URL", None)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "--config", str(config), "run"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        samples: dict[int, int] = {}
        started = time.monotonic()
        try:
            while len(samples) < 2:
                done = finished_runs(db)
                for mark in (10, args.runs):
                    if done >= mark and mark not in samples:
                        samples[mark] = rss_kib(daemon.pid)
                        print(
                            f"run {done:>4}: daemon RSS {samples[mark] / 1024:.1f} MiB", flush=True
                        )
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited early with {daemon.returncode}")
                time.sleep(0.2)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
        elapsed = time.monotonic() - started
    growth = (samples[args.runs] - samples[10]) / samples[10] * 100
    print(
        f"{args.runs} runs in {elapsed:.0f}s; RSS growth run 10 -> run {args.runs}: {growth:+.1f}% (target < 10%)"
    )
    return 0 if growth < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
