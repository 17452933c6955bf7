"""Extraction quality: newsmon against bare `trafilatura.extract` (default options).

Runs both over the quality set of tests/quality.py (hand-written pages after real news and
ministry layouts, and the demo corpus) and prints, per extractor, the mean token F1 over the
pages with a reference text, the share of with/without phrase checks passed, and how many
pages were classed right (article kept, section/tag/consent page refused); then per page F1.

    python bench/quality.py [--failures]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crawler.test_extract_quality import bare_trafilatura, newsmon  # noqa: E402
from tests.quality import cases, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", action="store_true", help="list every failed check")
    args = parser.parse_args()
    selected = cases()
    results = {}
    print(f"{'extractor':<22} {'token F1':>9} {'with/without':>13} {'pages right':>12} {'s':>6}")
    for name, extractor in (("newsmon", newsmon), ("trafilatura default", bare_trafilatura)):
        started = time.perf_counter()
        result = results[name] = score(extractor, selected)
        elapsed = time.perf_counter() - started
        print(
            f"{name:<22} {result.mean_f1:>9.3f} {result.phrase_rate:>12.1%} "
            f"{result.pages_right:>5}/{result.pages:<6} {elapsed:>6.2f}"
        )
    print(f"\n{'page':<32} {'newsmon':>8} {'trafilatura':>12}")
    for page, f1 in results["newsmon"].f1.items():
        print(f"{page:<32} {f1:>8.3f} {results['trafilatura default'].f1[page]:>12.3f}")
    if args.failures:
        for name, result in results.items():
            print(f"\n{name} failures:")
            for failure in result.failures:
                print("  " + failure)


if __name__ == "__main__":
    main()
