"""The daemon's own polls: the probe of crawler/probe.py, asked by the cadence (jobs/cadence.py).

`newsmon run` polls each due source itself, in threads, with no process: robots.txt, then the
conditional GET or body hash of its discovery URL, exactly as `newsmon crawl`'s probe asks
(crawler/http_rules.py holds the rules both use). This module adds what the cadence needs:

- whether the poll goes out without validators (`cadence.send_unconditional`: at least once per
  `max`, after a long silence, always once a source was caught lying or says
  `conditional: false`);
- the server's hints in the answer (RSS `<ttl>`, `sy:update*`, Cache-Control/Expires,
  Retry-After) and how many entries the discovery page lists;
- the observation each poll, and the crawl it led to, are recorded as (`Poll.observation`): an
  unconditional 200 whose ETag / Last-Modified were the stored ones, behind which the crawl
  then found new items, shows the server's 304s lie, and the source stops sending conditional
  requests (`status` says so in `conditional_note`).

Host budget: every source of one host shares one crawler.probe.HostProbe for the daemon's
lifetime, so polls of a host go one at a time and at least the largest `delay` of its sources
apart, whichever sources and ticks they come from.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from crawler.config.models import Config, Source
from crawler.probe import Probe, Prober
from crawler.urls import host_key
from jobs.cadence import WINDOW, Hints, Observation, Outcome, hints_from, send_unconditional
from storage import cadence
from storage.clock import utcnow

POLL_HOSTS_AT_ONCE = 16
# An entry of a feed (RSS <item>, Atom <entry>) or a sitemap (<url>).
ENTRY = re.compile(rb"<(?:item|entry|url)[\s>]", re.IGNORECASE)

PollOutcome = Literal["unchanged", "changed", "failed"]


@dataclass(frozen=True)
class Poll:
    """One source's poll by the daemon. `probe` is None when the source could not be polled
    (its last walk did not catch up, or nothing is stored to compare with): the crawl looks."""

    source: Source
    probe: Probe | None
    hints: Hints = Hints()
    entries_seen: int = 0

    @property
    def outcome(self) -> PollOutcome | None:
        """unchanged, changed or failed; None when not polled. What /metrics counts."""
        if self.probe is None:
            return None
        outcome = self.probe.outcome
        return (
            "unchanged"
            if outcome == "unchanged"
            else "failed"
            if outcome == "failed"
            else "changed"
        )

    @property
    def unchanged(self) -> bool:
        return self.probe is not None and self.probe.unchanged

    def observation(
        self, at: datetime, crawl_status: str | None = None, new_items: int = 0
    ) -> Observation:
        """What the cadence learns: the poll alone (unchanged), or with the crawl it led to."""
        conditional_sent = self.probe.conditional_sent if self.probe is not None else True
        if crawl_status is None:
            return Observation(
                at, "unchanged", self.hints, self.entries_seen, 0, conditional_sent=conditional_sent
            )
        kind: Outcome = "failed" if crawl_status == "failed" else "changed"
        lied = (
            self.probe is not None
            and self.source.conditional is not False
            and not self.probe.conditional_sent
            and self.probe.same_validators
            and new_items > 0
        )
        return Observation(
            at,
            kind,
            self.hints,
            entries_seen=self.entries_seen,
            entries_new=new_items,
            conditional_sent=conditional_sent,
            validators_lied=lied,
        )


class Poller:
    """The daemon's probe, kept for its lifetime (per-host budgets, robots.txt, TLS contexts)."""

    def __init__(self, config: Config, max_hosts: int = POLL_HOSTS_AT_ONCE) -> None:
        self.config = config
        self.prober = Prober(config, max_hosts)

    def close(self, wait: bool = True) -> None:
        self.prober.pool.shutdown(wait=wait, cancel_futures=True)

    def hold_off(self, urls: Iterable[str]) -> None:
        """Wait until no poll of the hosts of `urls` is in flight, and count now as their
        latest request: a crawl child is about to start on them (blocking)."""
        for host in sorted({host_key(url) for url in urls}):
            budget = self.prober.hosts.get(host)
            if budget is not None:
                with budget.busy:
                    budget.last_request_at = time.monotonic()

    def poll(self, engine: Engine, sources: Sequence[Source]) -> dict[str, Poll]:
        """Poll `sources` (blocking; the daemon calls it in a thread), one Poll each."""
        now = utcnow()
        unconditional = unconditional_names(self.config, engine, sources, now)
        probes = self.prober.probe(sources, engine, unconditional)
        return {
            source.name: poll_of(self.config, source, probes.get(source.name), now)
            for source in sources
        }


def unconditional_names(
    config: Config, engine: Engine, sources: Sequence[Source], now: datetime
) -> set[str]:
    """The sources whose next poll goes out without validators (cadence.send_unconditional)."""
    names = [source.name for source in sources]
    states = cadence.load_states(engine, names)
    published = cadence.publication_times(engine, names, now - WINDOW)
    return {
        source.name
        for source in sources
        if send_unconditional(
            config.schedule_for(source),
            states.get(source.name),
            now,
            published.get(source.name, []),
            source.conditional,
        )
    }


def poll_of(config: Config, source: Source, probe: Probe | None, now: datetime) -> Poll:
    """What the cadence reads from a probe: the hints and entries of its discovery response."""
    if probe is None or probe.discovery is None:
        return Poll(source, probe)
    response = probe.discovery
    limit = config.politeness_for(source).max_page_bytes
    body = response.decoded_body(limit) if response.status == 200 else None
    hints = hints_from(response.status, dict(response.headers), body, now)
    return Poll(source, probe, hints, len(ENTRY.findall(body)) if body else 0)
