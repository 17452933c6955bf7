"""What one crawl of one source needs besides Scrapy: config, database, matcher, counters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from crawler.config.models import Config, Source
from crawler.keywords import Matcher
from crawler.probe import Fetched
from crawler.walks import Backfill, WalkTracker, crawl_target
from storage import queries, walks


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
    backfill: Backfill | None = None  # `newsmon backfill`, not a routine crawl

    @property
    def walk_kind(self) -> str:
        return walks.BACKFILL if self.backfill is not None else walks.CRAWL

    def walk_tracker(self) -> WalkTracker:
        """The tracker of this crawl's walks, from the state the last walks left."""
        if self.backfill is not None:
            target = self.backfill.target(self.source)
        else:
            target = crawl_target(self.source)
        return WalkTracker(target, walks.walk_states(self.engine, self.source_id, self.walk_kind))

    def known_url_keys(self, url_keys: Iterable[str]) -> set[str]:
        return queries.known_url_keys(self.engine, url_keys)
