"""Host leases in Redis: one worker at a time crawls a host, and the next one's first request
waits the host's politeness delay after the last one's.

Within one crawl child the sources of a host already share its budget (crawler/settings.py
host_sharing, crawler/probe.py HostProbe). Across Celery workers nothing else would keep two
batches of one host from crawling it at once, each at the full budget. A lease is `SET key
token NX PX ttl`: it expires by itself when its holder dies (the ttl outlasts the child's
run_timeout), and only the holder that took it releases it (compare-and-delete, in Lua so no
other holder's lease is deleted between the compare and the delete). Releasing also leaves a
"free" key living the host's delay: the next holder sleeps until it is gone. Redis counts that
time, so the workers' clocks need not agree.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

POLL_S = 0.1  # how often a waiting worker tries again
# Deletes the lease if this holder still has it, and starts the host's gap in the same step.
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  if tonumber(ARGV[2]) > 0 then
    redis.call('set', KEYS[2], '1', 'PX', ARGV[2])
  end
  return 1
end
return 0
"""


class HostLease:
    """Leases of hosts under `prefix` (e.g. `newsmon:<queue>:`), each living `ttl` seconds."""

    def __init__(self, client: Any, prefix: str, ttl: float, poll: float = POLL_S) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_ms = max(1, int(ttl * 1000))
        self.poll = poll
        self._release = client.register_script(RELEASE)

    def lease_key(self, host: str) -> str:
        return f"{self.prefix}host:{host}"

    def free_key(self, host: str) -> str:
        return f"{self.prefix}free:{host}"

    def acquire(self, hosts: Iterable[str], wait: float) -> Leases | None:
        """Every host's lease, taken in sorted order (two batches sharing hosts never hold one
        each and wait for the other's), waiting at most `wait` seconds in all; None if some
        host stayed leased by another holder that long (those taken are given back)."""
        deadline = time.monotonic() + wait
        held = Leases(self, {})
        for host in sorted(set(hosts)):
            token = uuid.uuid4().hex
            while not self.client.set(self.lease_key(host), token, nx=True, px=self.ttl_ms):
                if time.monotonic() >= deadline:
                    held.release({})
                    return None
                time.sleep(self.poll)
            held.tokens[host] = token
        return held

    def free_in(self, hosts: Iterable[str]) -> float:
        """Seconds until the last of `hosts` has had its gap since its previous holder."""
        pttls = [self.client.pttl(self.free_key(host)) for host in hosts]
        return max([ms / 1000 for ms in pttls if ms > 0], default=0.0)


class Leases:
    """The leases one holder took: wait for their hosts' gaps, then release them."""

    def __init__(self, lease: HostLease, tokens: dict[str, str]) -> None:
        self.lease = lease
        self.tokens = tokens

    def wait_free(self) -> float:
        """Sleep until every host's gap since its previous holder has passed; the seconds slept."""
        slept = 0.0
        while (left := self.lease.free_in(self.tokens)) > 0:
            time.sleep(left)
            slept += left
        return slept

    def release(self, gaps: Mapping[str, float]) -> dict[str, bool]:
        """Give each lease back if still ours (False: it expired and may be another's), and
        start each host's gap (`gaps[host]` seconds) before the next holder's first request."""
        released = {}
        for host, token in self.tokens.items():
            gap_ms = int(gaps.get(host, 0.0) * 1000)
            keys = [self.lease.lease_key(host), self.lease.free_key(host)]
            released[host] = bool(self.lease._release(keys=keys, args=[token, gap_ms]))
        self.tokens = {}
        return released
