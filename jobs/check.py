"""`newsmon check --live`: try each source for real (crawler/check.py) and report verdicts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from crawler.config.models import Config
from jobs.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from jobs.output import printable


def check_live(
    config: Config, names: Sequence[str], samples: int, fmt: str, log_level: str = "WARNING"
) -> int:
    """Print a verdict per source (with its samples and problems); the exit code they make."""
    from crawler.check import live_check
    from jobs.crawl import select_sources

    try:
        chosen = select_sources(config, names)
    except KeyError as error:
        print(f"newsmon: {error.args[0]}", file=sys.stderr)
        return EXIT_CONFIG
    if not chosen:
        print("newsmon: no enabled sources to check", file=sys.stderr)
        return EXIT_CONFIG
    checks = live_check(config, chosen, samples, log_level)
    if fmt == "json":
        print(json.dumps([check.row() for check in checks], indent=2, ensure_ascii=False))
    else:
        width = max(len(check.source) for check in checks)
        for check in checks:
            print(
                f"{check.source:<{width}}  {check.verdict:<21}  http={check.status or '-'}"
                f" format={check.format or '-'} discovered={check.discovered}"
                f" matched={check.matched} samples={len(check.samples)}"
            )
            for sample in check.samples:
                when = sample.published_at.strftime("%Y-%m-%d") if sample.published_at else "-"
                language = sample.language or "-"
                if sample.language and sample.language_source:
                    language += f" ({sample.language_source})"
                print(
                    printable(
                        f"    {sample.url}  {when} ({sample.date_source or '-'})"
                        f"  {sample.text_chars} chars  {language}"
                        f"  {sample.extracted_by or '-'}  {sample.title or '(no title)'}"
                    )
                )
            for problem in check.problems:
                print(printable(f"    problem: {problem}"))
    return EXIT_OK if all(check.verdict == "ok" for check in checks) else EXIT_FAILED
