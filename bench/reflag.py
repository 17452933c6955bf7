"""`reflag` throughput and memory: N synthetic stored items, rules changed, re-applied.

Stores N articles (about 3 KB each, one in five mentioning a watched term) in a fresh SQLite
file, then re-flags them after a rule change. Prints items/s and the peak RSS growth during
the re-flag, which should stay flat as N grows (keyset-paginated batches).

    python bench/reflag.py --items 20000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config.models import Config  # noqa: E402
from jobs.reflag import reflag  # noqa: E402
from storage.crawlstate import ensure_source  # noqa: E402
from storage.db import make_engine, prepare_for_writing  # noqa: E402
from storage.queries import ArticleRecord, store_articles  # noqa: E402

FILLER = "officials met on Tuesday to discuss the agenda for the coming session and " * 40


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as workdir:
        engine = make_engine(f"sqlite:///{workdir}/bench.db")
        prepare_for_writing(engine)
        source_id = ensure_source(engine, "bench", "feed", "https://example.com/feed")
        batch: list[ArticleRecord] = []
        for n in range(args.items):
            term = rng.choice(["Pakistan-US talks", "trade dialogue", "weather"])
            batch.append(
                ArticleRecord(
                    url=f"https://example.com/{n}",
                    url_key=f"example.com/{n}",
                    title=f"Story {n}",
                    text=f"{FILLER} The {term} resumed. {FILLER}",
                    content_hash=f"{n:064d}",
                )
            )
            if len(batch) == 500:
                store_articles(engine, source_id, batch)
                batch = []
        store_articles(engine, source_id, batch)
        config = Config.model_validate(
            {
                "sources": [{"name": "bench", "feed": "https://example.com/feed"}],
                "keywords": ["Pakistan-US", {"name": "trade", "terms": ["trade dialogue"]}],
            }
        )
        before = peak_rss_mb()
        started = time.perf_counter()
        report = reflag(config, engine)
        elapsed = time.perf_counter() - started
        print(
            f"{report.items} items in {elapsed:.1f}s = {report.items / elapsed:,.0f} items/s; "
            f"+{report.added} matches; peak RSS {before:.0f} -> {peak_rss_mb():.0f} MB"
        )


if __name__ == "__main__":
    main()
