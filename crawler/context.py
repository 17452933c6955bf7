"""What one crawl of one source needs besides Scrapy: config, database, matcher, and the state
the run keeps while it goes (walks, validators, near-duplicates, re-checks, failures).

The runner builds the context and hands it to the spider; the spider opens the crawl state
when it starts (`open_crawl`); middlewares and pipelines reach it through crawler/components.py.
Nothing of this is kept on the spider.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crawler.config.models import Config, Source
from crawler.discovery import Discovery, discovery_of
from crawler.keywords import Matcher
from crawler.probe import Fetched
from crawler.validators import ValidatorBook
from crawler.walks import Backfill, WalkTracker, crawl_target
from storage import queries, validators, walks
from storage.incremental import RecheckTarget

if TYPE_CHECKING:
    from scrapy.http import Response
from storage.neardup import DuplicateLinker


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
    # `check --live` sets it before the crawl: keep the first discovery page's HTML for its
    # detectors (a script-built listing). Routine crawls keep no bodies.
    keep_discovery_page: bool = False
    # The run's state, set by open_crawl when the spider starts.
    walks: WalkTracker = field(init=False)
    validator_book: ValidatorBook = field(init=False)
    duplicate_linker: DuplicateLinker = field(init=False)
    # Known articles re-fetched in this run, by url_key (crawler/incremental.py).
    rechecking: dict[str, RecheckTarget] = field(init=False, default_factory=dict)
    # Why the run failed: its first discovery request, or the database refusing a whole batch.
    discovery_error: str | None = field(init=False, default=None)
    store_error: str | None = field(init=False, default=None)
    # Links a listing's `follow` left out, by first path segment: what `check --live` suggests.
    off_pattern_links: Counter[str] = field(init=False, default_factory=Counter)
    # The first discovery response: its status and format (`check --live` reports them).
    discovery: Discovery | None = field(init=False, default=None)

    def open_crawl(self) -> None:
        """Set up the run's state, from what the last walks left."""
        self.validator_book = ValidatorBook(self.engine)
        self.walks = self.walk_tracker()
        self.duplicate_linker = DuplicateLinker(self.config.near_duplicates.threshold)
        self.rechecking = {}

    def saw_discovery(self, response: Response) -> None:
        """Record the source's first discovery response (the spiders' base calls this)."""
        if self.discovery is None:
            self.discovery = discovery_of(response, keep_html=self.keep_discovery_page)

    @property
    def failure(self) -> str | None:
        """Why the run failed, if it did for a reason of its own."""
        return self.discovery_error or self.store_error

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

    def save_progress(self) -> None:
        """Save what walks started and caught up: walking before any item below is stored,
        validators of a caught-up URL before it is marked so. Raises when it cannot."""
        progress = self.walks.take()
        if progress.caught_up:
            rows = self.validator_book.discovery_rows(url for url, _ in progress.caught_up)
            validators.save_validators(self.engine, rows)
        walks.record(self.engine, self.source_id, self.walk_kind, self.walks.target, progress)
