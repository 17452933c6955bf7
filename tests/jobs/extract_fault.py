"""For a child `newsmon` (tests/faults/child.py hook): extraction fails for every page whose URL
contains $NEWSMON_TEST_FAILING_PAGE, as a page that breaks trafilatura would."""

from __future__ import annotations

import os

from crawler import extract, pipelines


def extract_article(html: str, url: str) -> extract.Extracted:
    marker = os.environ.get("NEWSMON_TEST_FAILING_PAGE")
    if marker and marker in url:
        raise RuntimeError("the extractor broke on this page")
    return extract.extract_article(html, url)


def install() -> None:
    # The pool pickles the function by name: workers import this module and call it there.
    pipelines.extract_article = extract_article  # type: ignore[assignment]
