"""What one crawl of one source needs besides Scrapy: config, database, matcher, counters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from crawler.config import Config, Source
from crawler.keywords import Matcher
from crawler.probe import Fetched
from storage import queries


@dataclass
class SourceContext:
    config: Config
    source: Source
    engine: Engine
    matcher: Matcher
    source_id: int
    run_id: int
    # Responses the pre-crawl probe received in full, by URL: served once instead of fetched.
    prefetched: dict[str, Fetched] = field(default_factory=dict)

    def known_url_keys(self, url_keys: Iterable[str]) -> set[str]:
        return queries.known_url_keys(self.engine, url_keys)
