"""When a discovery walk has caught up, so that a later run may take its shortcuts there.

A walk is one discovery URL (a feed, a sitemap or child sitemap, a listing page) and everything
below it: the child sitemaps or the next listing page it led to, and the articles it listed. It
catches up when everything below it settled well: each article stored, stored already, or
deliberately skipped (robots.txt, a private address, not an article, too old, a child sitemap
past max_sitemap_depth or off the site), and each child walk caught up. Anything else leaves
it walking: a failed fetch (TLS and DNS errors included), extraction or store, a cut that
another run might get past (max_articles, max_sitemaps, max_links_per_page, a `follow` regex
that timed out), a feed that would not parse, an exception, a kill.

A URL is recorded walking before the first item below it is stored, and caught up only after
the last one was; so a process killed at any point leaves no "caught up" that a later shortcut
(a 304, an unchanged body, a listing stopped at a stored page, the probe) could trust wrongly.
Shortcuts are judged on the state the run started from (`known`), for the same `target`: what
the walk is asked to cover (listing depth, `follow`, `max_age`, the sitemap depth and hosts;
a backfill's own limits).

Pure bookkeeping, no Scrapy and no database: the spider feeds it events, and saves `take()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from storage.urlkeys import url_digest
from storage.walks import Progress, WalkState

if TYPE_CHECKING:
    from crawler.config.models import Source


def crawl_target(source: Source) -> str:
    """What a crawl's walk of `source` covers: changing any of it starts every walk over."""
    target = f"pages={source.pages} follow={source.follow or ''} max_age={source.max_age}"
    if source.sitemap:
        # Child sitemaps past max_sitemap_depth or off the site are skipped on purpose, so a
        # walk that skipped them caught up: for these limits only.
        hosts = ",".join(sorted(source.sitemap_hosts))
        target += f" max_sitemap_depth={source.max_sitemap_depth} sitemap_hosts={hosts}"
    return target


@dataclass(frozen=True)
class BackfillStep:
    """One step of a backfill done: a listing page, or a child sitemap, and all below it."""

    source: str
    done: int  # a listing's page number, else the steps done in this run
    total: int | None  # steps it will take, when known
    url: str
    ok: bool  # everything below it stored or deliberately skipped
    new_items: int  # stored by this run so far


@dataclass
class Backfill:
    """A `newsmon backfill` run: what it walks, where it resumes, whom it tells each step."""

    pages: int | None = None  # listing pages, or child sitemaps; None: all there are
    since: datetime | None = None  # entries dated before this are not wanted
    since_text: str | None = None  # --since as typed: a duration stays relative on resume
    resume_url: str | None = None  # a listing's first page not done yet
    resume_page: int | None = None
    steps_this_run: int = 0
    report: Callable[[BackfillStep], None] | None = field(default=None, repr=False)

    def target(self, source: Source) -> str:
        return f"backfill pages={self.pages} since={self.since_text} follow={source.follow or ''}"


@dataclass(eq=False)
class Walk:
    """One discovery URL being walked in this run."""

    url: str
    parent: Walk | None = None
    page: int | None = None  # a listing page's number
    pending: int = 0  # requests and items below it, not settled yet
    parsed: bool = False  # its response was handled (children counted in `pending`)
    failed: bool = False  # something below it did not settle well
    unchanged: bool = False  # skipped by a shortcut: its last walk caught up
    done: bool = False
    newest: datetime | None = None  # the newest date of an article below it (for --since)
    then: Callable[[Walk], None] | None = field(default=None, repr=False)  # when done


class WalkTracker:
    """The walks of one source's crawl, and the progress to save."""

    def __init__(self, target: str, known: Mapping[str, WalkState]) -> None:
        self.target = target
        self.known = dict(known)  # by url_digest, as storage/walks.py keeps them
        self.opened: dict[str, Walk] = {}
        self._walking: list[tuple[str, int | None]] = []
        self._caught_up: list[tuple[str, int | None]] = []
        self._awaiting: dict[str, list[Walk]] = {}  # url_key of items on their way to the store

    def caught_up(self, url: str) -> bool:
        """Whether the last walk of `url` caught up, for this target (as the run started)."""
        state = self.known.get(url_digest(url))
        return state is not None and state.covers(self.target)

    def open(self, url: str, parent: Walk | None = None, page: int | None = None) -> Walk | None:
        """A discovery request for `url` goes out; None if this run walks it already."""
        if url in self.opened:
            return None
        walk = self.opened[url] = Walk(url, parent, page)
        if parent is not None:
            parent.pending += 1
        return walk

    def walking(self, walk: Walk) -> None:
        """Its response is about to be parsed: until everything below settles, it is walking."""
        state = self.known.get(url_digest(walk.url))
        if state is None or state.caught_up or state.target != self.target:
            self._walking.append((walk.url, walk.page))

    def parsed(self, walk: Walk, complete: bool = True) -> None:
        """Its children are counted; `complete` False when it left some out (max_articles)."""
        walk.parsed = True
        walk.failed |= not complete
        self._check(walk)

    def unchanged(self, walk: Walk) -> None:
        """A shortcut ended it: nothing below it to walk in this run."""
        walk.unchanged = True
        self.parsed(walk)

    def fetch_failed(self, walk: Walk) -> None:
        walk.failed = True
        self.parsed(walk)

    def below(self, walk: Walk) -> None:
        """A request or an item below `walk` is outstanding."""
        walk.pending += 1

    def settle(self, walk: Walk, ok: bool) -> None:
        """One outstanding request or item below `walk` ended, well or not."""
        walk.pending -= 1
        walk.failed |= not ok
        self._check(walk)

    def expect(self, url_key: str, walk: Walk) -> None:
        """An item of `walk` goes to the store under `url_key`; `stored` settles it."""
        self._awaiting.setdefault(url_key, []).append(walk)

    def dated(self, walk: Walk, published: datetime | None) -> None:
        if published is not None and (walk.newest is None or published > walk.newest):
            walk.newest = published

    def stored(self, url_key: str, ok: bool) -> None:
        for walk in self._awaiting.pop(url_key, []):
            self.settle(walk, ok)

    def take(self) -> Progress:
        """The progress since the last call, to save (walking before caught up)."""
        progress = Progress(self._walking, self._caught_up)
        self._walking, self._caught_up = [], []
        return progress

    def _check(self, walk: Walk) -> None:
        if walk.done or not walk.parsed or walk.pending:
            return
        walk.done = True
        if not walk.failed and not walk.unchanged:
            self._caught_up.append((walk.url, walk.page))
        if walk.then is not None:
            walk.then(walk)
        if walk.parent is not None:
            self.settle(walk.parent, ok=not walk.failed)
