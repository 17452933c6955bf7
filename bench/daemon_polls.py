"""CPU per unchanged poll: `python bench/daemon_polls.py [--sources 40] [--every 5] [--seconds 40]`.

Serves S unchanged feeds on 127.0.0.1 (from this process, so the server's CPU is not counted),
crawls them once so their validators are stored, then runs `newsmon run` with `every:` schedules
and prints the CPU the daemon's whole process tree used (its own user+system time plus that of
every child it reaped) divided by the polls it counted in /healthz. Target (issue 16): at most
5 ms per unchanged poll; one crawl child per poll used about 361 ms. With --changing every
feed changes before every poll, so each tick's sources are crawled (25 a child): it prints the
CPU per changed source instead (target 0.2 s; a child per source cost about 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.proctree import tree_cpu  # noqa: E402
from tests.jobs.helpers import free_port, write_config  # noqa: E402
from tests.localsite import LocalSite, Response  # noqa: E402


def polls(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return dict(json.load(response)["polls"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=40)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument(
        "--changing", action="store_true", help="every feed changes before every poll"
    )
    args = parser.parse_args()
    counter = iter(range(10**9))

    def feed() -> bytes:
        title = next(counter) if args.changing else "t"
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title></channel></rss>'.encode()

    with tempfile.TemporaryDirectory() as folder, LocalSite() as site:
        tmp = Path(folder)
        names = [f"feed{n:03d}" for n in range(args.sources)]
        for name in names:
            site.route(f"/{name}.xml", lambda _r: Response(feed(), 200))
        sources = "".join(f"  - name: {n}\n    feed: {{base}}/{n}.xml\n" for n in names)
        config = write_config(tmp, site, sources, f"schedule: {{every: {args.every}s}}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
        env["PYTHONPATH"] = str(REPO)
        base = [sys.executable, "-m", "jobs.cli", "--config", str(config)]
        subprocess.run([*base, "crawl"], cwd=tmp, env=env, check=True, capture_output=True)
        port = free_port()
        daemon = subprocess.Popen(
            [*base, "run", "--health-port", str(port)],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:  # the first tick polls every source (they were crawled just now)
                try:
                    if sum(polls(port).values()) >= args.sources:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the daemon did not start polling")
                time.sleep(0.2)
            cpu0, polls0 = tree_cpu(daemon.pid), polls(port)
            time.sleep(args.seconds)
            cpu1, polls1 = tree_cpu(daemon.pid), polls(port)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
    counted = {outcome: polls1[outcome] - polls0.get(outcome, 0) for outcome in polls1}
    spent = cpu1 - cpu0
    total = sum(counted.values())
    print(f"polls in {args.seconds:g}s: {counted}")
    print(f"daemon tree CPU: {spent:.2f}s")
    if args.changing:
        per = spent / max(1, counted.get("changed", 0))
        print(f"CPU per changed source: {per:.3f} s (target <= 0.2 s; was about 2 s)")
    else:
        per = 1000 * spent / max(1, total)
        print(f"CPU per unchanged poll: {per:.1f} ms (target <= 5 ms; was 361 ms)")


if __name__ == "__main__":
    main()
