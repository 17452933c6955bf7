"""Incremental crawling figures: a re-run of an unchanged site, and near-duplicate lookup cost.

1. Builds a local site of N article pages (bench/sitegen.py) behind a sitemap, crawls it with
   the real `newsmon crawl` (a child process, as cron runs it), then crawls it again at once,
   a few times (their median is the figure). Target: the second run takes at most 10% of the
   first's wall time and fetches no article.
2. Fills a database with 10k and 100k signatures and times the near-duplicate lookup of new
   items (the LSH band query plus the MinHash comparisons of the candidates).

    python bench/rerun.py [--pages 300] [--reruns 5] [--skip-lookup]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.sitegen import build_site  # noqa: E402
from tests.jobs.helpers import newsmon, write_config  # noqa: E402
from tests.localsite import LocalSite  # noqa: E402


def rerun(pages: int, reruns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        build_site(root, pages)
        with LocalSite(root) as site:
            config = write_config(
                Path(tmp),
                site,
                "  - name: bench\n    sitemap: {base}/sitemap.xml\n    max_articles: 100000\n",
            )
            first = timed_crawl(config, site, "first")
            # One re-run is one noisy sample of a sub-second process: report the median of a few.
            second = statistics.median(timed_crawl(config, site, "re-run") for _ in range(reruns))
        print(
            f"second run (median of {reruns}) / first = {second:.2f}s / {first:.2f}s"
            f" = {second / first:.1%} (target <= 10%)"
        )


def timed_crawl(config: Path, site: LocalSite, label: str) -> float:
    """Run `newsmon crawl`, print what it did, and return its wall time."""
    before = len(site.requests)
    started = time.perf_counter()
    result = newsmon(config, "crawl", timeout=1800)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    seen = [r.path for r in site.requests[before:]]
    articles = sum(path.startswith("/news/") for path in seen)
    print(
        f"{label:>6}: {wall:6.2f}s wall, {len(seen)} requests, {articles} article fetches"
        f" | {result.stdout.strip()}"
    )
    return wall


def lookup_cost(stored: int, probes: int = 200) -> None:
    import numpy as np
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from bench.sitegen import SENTENCES
    from storage.db import make_engine, prepare_for_writing
    from storage.models import Item, Signature, SignatureBand, Source
    from storage.neardup import find_near_copies
    from storage.text import NUM_PERM, band_hashes, minhash

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'sig.db'}")
        prepare_for_writing(engine)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            session.add(Source(id=1, name="b", mode="feed", url="http://x/"))
            session.flush()
            for start in range(0, stored, 5000):
                ids = range(start + 1, min(stored, start + 5000) + 1)
                # Unrelated stored texts: random signatures stand in for their MinHashes (the
                # lookup cost depends on the band table, not on where the values came from).
                values = rng.integers(0, 2**32 - 1, size=(len(ids), NUM_PERM), dtype=np.uint64)
                session.execute(
                    insert(Item),
                    [
                        {
                            "id": i,
                            "source_id": 1,
                            "url": f"u{i}",
                            "url_key": f"u{i}",
                            "text": "",
                            "content_hash": "",
                        }
                        for i in ids
                    ],
                )
                signatures = [v.astype("<u8").tobytes() for v in values]
                session.execute(
                    insert(Signature),
                    [{"item_id": i, "minhash": s} for i, s in zip(ids, signatures, strict=True)],
                )
                session.execute(
                    insert(SignatureBand),
                    [
                        {"band": b, "hash": h, "item_id": i}
                        for i, s in zip(ids, signatures, strict=True)
                        for b, h in band_hashes(np.frombuffer(s, dtype="<u8"))
                    ],
                )
        fill = time.perf_counter() - started
        texts = [
            " ".join(rng.choice(SENTENCES, size=12))
            + f" Item {n} "
            + " ".join(str(w) for w in rng.integers(0, 10**6, size=60))
            for n in range(probes)
        ]
        started = time.perf_counter()
        signatures = [minhash(text) for text in texts]
        signing = (time.perf_counter() - started) / probes
        started = time.perf_counter()
        found = 0
        with Session(engine) as session:
            for signature in signatures:
                found += len(find_near_copies(session, signature, 0.8))
        lookup = (time.perf_counter() - started) / probes
        print(
            f"{stored:>7} stored signatures: lookup {lookup * 1000:.2f} ms/item"
            f" (+ MinHash {signing * 1000:.2f} ms/item), {found} false matches;"
            f" filling took {fill:.0f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--reruns", type=int, default=5, help="re-runs to take the median of")
    parser.add_argument("--skip-lookup", action="store_true")
    args = parser.parse_args()
    rerun(args.pages, args.reruns)
    if not args.skip_lookup:
        for stored in (10_000, 100_000):
            lookup_cost(stored)


if __name__ == "__main__":
    main()
