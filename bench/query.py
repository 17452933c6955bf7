"""Query speed on a 100k-item SQLite database: full-text search, a deep cursor page, a cold CLI.

    python bench/query.py                 # builds /tmp/newsmon-bench/newsmon.db once, then times
    python bench/query.py --items 20000 --rebuild

Targets (issue 6): every query under 100 ms; `newsmon items --limit 20` under 0.5 s cold.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.db import make_engine, prepare_for_writing  # noqa: E402
from storage.search import ItemQuery, search_items  # noqa: E402

SOURCES = ["dawn", "tribune", "mofa", "state-dept", "geo"]
LANGUAGES = ["en"] * 8 + ["ur", "en-GB"]
TOPICS = [
    "stable",
    "relationship",
    "trade",
    "talks",
    "minister",
    "visit",
    "security",
    "economy",
    "cricket",
]
QUERY_TARGET_MS, CLI_TARGET_S = 100, 0.5


def build(path: Path, count: int) -> None:
    """Fill a fresh database with `count` synthetic items (3% flagged) through the real schema."""
    if path.exists():
        path.unlink()
    engine = make_engine(f"sqlite:///{path}")
    prepare_for_writing(engine)
    engine.dispose()
    rng = random.Random(6)
    vocabulary = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 10)))
        for _ in range(5000)
    ]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    import sqlite3

    connection = sqlite3.connect(path)
    connection.executemany(
        "INSERT INTO sources (id, name, mode, url, created_at) VALUES (?, ?, 'feed', ?, ?)",
        [
            (n + 1, name, f"https://{name}.example/feed", "2024-01-01 00:00:00")
            for n, name in enumerate(SOURCES)
        ],
    )
    batch, matches = [], []
    for n in range(1, count + 1):
        words = rng.choices(vocabulary, k=rng.randint(60, 160)) + rng.sample(TOPICS, 2)
        rng.shuffle(words)
        flagged = rng.random() < 0.03
        if flagged:
            words.insert(5, "Pakistan-US")
        text = " ".join(words)
        published = start + timedelta(minutes=rng.randint(0, 60 * 24 * 700))
        batch.append(
            (
                n,
                rng.randint(1, len(SOURCES)),
                f"https://news.example/{n}",
                f"news.example/{n}",
                " ".join(rng.choices(vocabulary + TOPICS, k=8)).capitalize(),
                None if rng.random() < 0.1 else _stamp(published),
                _stamp(published + timedelta(hours=1)),
                rng.choice(LANGUAGES),
                text,
                f"{n:064d}",
            )
        )
        if flagged:
            at = text.index("Pakistan-US")
            matches.append(
                (n, "Pakistan-US", "text", at, at + 11, text[at : at + 40], _stamp(published))
            )
        if len(batch) == 5000 or n == count:
            connection.executemany(
                "INSERT INTO items (id, source_id, url, url_key, title, published_at, fetched_at,"
                " language, text, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            connection.executemany(
                'INSERT INTO keyword_matches (item_id, keyword, field, start, "end", snippet,'
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                matches,
            )
            connection.commit()
            batch, matches = [], []
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


def _stamp(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def timed(function, repeat: int = 7) -> float:
    """Median wall time of `function` in ms (after one warm-up call)."""
    function()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def cursor_at(engine, query: ItemQuery, depth: int) -> str:
    """The cursor of page `depth` (walking the pages before it)."""
    cursor = None
    for _ in range(depth - 1):
        cursor = search_items(engine, replace(query, cursor=cursor)).next_cursor
        assert cursor, "the filtered set is shorter than the requested depth"
    return cursor


def cold_cli(path: Path, runs: int = 5) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `newsmon items --limit 20` in fresh processes (CPU time shows
    what the command costs when other work shares the machine)."""
    config = path.parent / "config.yaml"
    config.write_text(
        f"database: sqlite:///{path}\nsources:\n  - name: dawn\n    feed: https://dawn.example/feed\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NEWSMON_CONFIG", None)
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "jobs.cli", "--config", str(config), "items", "--limit", "20"],
            check=True,
            capture_output=True,
            env=env,
            cwd=REPO,
        )
        times.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/newsmon-bench/newsmon.db"))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not args.db.exists():
        began = time.perf_counter()
        build(args.db, args.items)
        print(f"built {args.items} items in {time.perf_counter() - began:.1f} s: {args.db}")
    engine = make_engine(f"sqlite:///{args.db}")
    results: list[tuple[str, float]] = []
    for search in [
        '"stable relationship"',
        "relat*",
        "trade AND minister NOT cricket",
        "Pakistan-US",
    ]:
        query = ItemQuery(search=search, limit=20)
        results.append(
            (
                f"full text {search!r}, best 20 by bm25",
                timed(lambda q=query: search_items(engine, q)),
            )
        )
    query = ItemQuery(search="relationship", sort="newest", source="dawn", limit=20)
    results.append(
        ("full text + source filter, newest 20", timed(lambda: search_items(engine, query)))
    )
    listing = ItemQuery(limit=20)
    results.append(("newest 20, no filter (page 1)", timed(lambda: search_items(engine, listing))))
    filtered = ItemQuery(source="tribune", language="en", limit=10)
    results.append(
        ("source+language filter, page 1", timed(lambda: search_items(engine, filtered)))
    )
    deep = replace(filtered, cursor=cursor_at(engine, filtered, 1000))
    results.append(
        ("source+language filter, page 1,000 via cursor", timed(lambda: search_items(engine, deep)))
    )
    keyword = ItemQuery(keyword="Pakistan-US", limit=20)
    deep_keyword = replace(keyword, cursor=cursor_at(engine, keyword, 100))
    results.append(
        ("keyword filter, page 100 via cursor", timed(lambda: search_items(engine, deep_keyword)))
    )
    for label, ms in results:
        verdict = "ok" if ms < QUERY_TARGET_MS else "SLOW"
        print(f"{label:<58} {ms:8.1f} ms  [{verdict}, target < {QUERY_TARGET_MS} ms]")
    runs, cpu = cold_cli(args.db)
    verdict = "ok" if min(runs) < CLI_TARGET_S else "SLOW"
    print(
        f"{'newsmon items --limit 20 (child process)':<58} first {runs[0]:.2f} s, median"
        f" {statistics.median(runs):.2f} s, best {min(runs):.2f} s  [{verdict}, target < {CLI_TARGET_S} s]"
    )
    print(
        f"{'  of which CPU time (user+sys)':<58} median {statistics.median(cpu):.2f} s, best {min(cpu):.2f} s"
    )
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
