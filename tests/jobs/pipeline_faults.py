"""For a child `newsmon` (tests/faults/child.py hook): pipeline stages that fail on some pages.

- $NEWSMON_TEST_FAILING_READ: reading a feed (in its worker thread) raises for URLs containing
  it, as a parser bug would;

- $NEWSMON_TEST_FAILING_PAGE: extraction raises for URLs containing it, as on a page that
  breaks trafilatura;
- $NEWSMON_TEST_FAILING_FLAG: the keyword stage (in the extraction worker) raises for URLs
  containing it, as a bug would;
- $NEWSMON_TEST_HUNG_PAGE: extraction never returns for URLs containing it, and the per-item
  extraction timeout is $NEWSMON_TEST_EXTRACT_TIMEOUT seconds.
"""

from __future__ import annotations

import os
import time
from typing import Any

from crawler import extract, pipelines, worker
from crawler.spiders.feed import FeedSpider


def extract_article(html: str, url: str, **options: Any) -> extract.Extracted:
    marker = os.environ.get("NEWSMON_TEST_FAILING_PAGE")
    if marker and marker in url:
        raise RuntimeError("the extractor broke on this page")
    hung = os.environ.get("NEWSMON_TEST_HUNG_PAGE")
    if hung and hung in url:
        time.sleep(3600)
    return extract.extract_article(html, url, **options)


def failing_flag(record, source, matcher):  # type: ignore[no-untyped-def]
    marker = os.environ.get("NEWSMON_TEST_FAILING_FLAG")
    if marker and marker in record.url:
        raise RuntimeError("a bug in the keyword stage")
    return flag(record, source, matcher)


# Workers import this module when they unpickle its extract_article, before they flag: the
# keyword stage runs there.
flag = worker.flag
worker.flag = failing_flag  # type: ignore[assignment]


def install() -> None:
    # The pool pickles the function by name: workers import this module and call it there.
    pipelines.extract_article = extract_article  # type: ignore[assignment]
    timeout = os.environ.get("NEWSMON_TEST_EXTRACT_TIMEOUT")
    if timeout:
        pipelines.EXTRACT_TIMEOUT_S = float(timeout)  # type: ignore[misc]
    read = FeedSpider.read_discovery

    def failing_read(self, response):  # type: ignore[no-untyped-def]
        marker = os.environ.get("NEWSMON_TEST_FAILING_READ")
        if marker and marker in response.url:
            raise RuntimeError("a bug in the feed reader")
        return read(self, response)

    FeedSpider.read_discovery = failing_read  # type: ignore[method-assign]
