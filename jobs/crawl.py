"""The one-shot crawl behind `newsmon crawl`: what cron runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from sqlalchemy import Engine

from crawler.config import Config, Source

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def select_sources(config: Config, names: Sequence[str]) -> list[Source]:
    """The named sources, or every enabled one; an unknown name is a config error."""
    if not names:
        return [source for source in config.sources if source.enabled]
    known = {source.name: source for source in config.sources}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown source {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    return [known[name] for name in dict.fromkeys(names)]


def crawl_once(
    config: Config, names: Sequence[str], engine: Engine, log_level: str = "WARNING"
) -> int:
    """Crawl, print one summary line per source, and return the exit code."""
    try:
        sources = select_sources(config, names)
    except KeyError as error:
        print(f"newsmon: {error.args[0]}", file=sys.stderr)
        return EXIT_CONFIG
    if not sources:
        print("newsmon: no enabled sources to crawl", file=sys.stderr)
        return EXIT_CONFIG
    from crawler.runner import run_crawl

    started = time.monotonic()
    results = run_crawl(config, sources, engine, log_level)
    width = max(len(result.source) for result in results)
    for result in results:
        o = result.outcome
        print(
            f"{result.source:<{width}}  {o.status:<7}  pages={o.pages} new={o.new_items} "
            f"flagged={o.flagged} errors={o.errors} skipped={o.skipped}"
            + (
                f"  [{', '.join(f'{k}={v}' for k, v in sorted(o.error_kinds.items()))}]"
                if o.error_kinds
                else ""
            )
        )
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    failed = [result for result in results if result.outcome.status == "failed"]
    for result in failed:
        print(
            f"newsmon: source {result.source} failed: {result.outcome.error_text}", file=sys.stderr
        )
    return EXIT_FAILED if failed else EXIT_OK
