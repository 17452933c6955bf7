"""Host leases on a real Redis: holders of one host take turns, `delay` apart, and a lease its
holder never released (killed) expires after its ttl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from jobs.hostlease import HostLease
from tests.jobs.helpers import REPO
from tests.localsite import LocalSite, RecordedRequest, Response

HOST = "news.example:80"


@pytest.fixture
def prefix(redis_broker: str) -> Iterator[str]:
    """A key prefix of this test's own, its keys deleted afterwards."""
    import redis

    prefix = f"newsmon:test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_broker)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def lease(redis_broker: str, prefix: str, ttl: float = 30.0) -> HostLease:
    """A lease on a client of its own, as each worker has."""
    import redis

    return HostLease(redis.Redis.from_url(redis_broker), prefix, ttl, poll=0.02)


def test_two_holders_of_one_host_never_overlap_and_the_second_waits_the_delay(redis_broker, prefix):
    delay = 1.0
    seen: list[tuple[str, float]] = []  # (holder, when the site received it)

    def page(request: RecordedRequest) -> Response:
        seen.append((request.headers.get("X-Holder", "?"), time.monotonic()))
        time.sleep(0.05)
        return Response(b"ok")

    errors: list[BaseException] = []

    def holder(name: str, site: LocalSite) -> None:
        try:
            held = lease(redis_broker, prefix).acquire([HOST], wait=30)
            assert held is not None
            held.wait_free()
            for _ in range(4):
                request = urllib.request.Request(site.url("/page"), headers={"X-Holder": name})
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
            held.release({HOST: delay})
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    with LocalSite() as site:
        site.route("/page", page)
        threads = [threading.Thread(target=holder, args=(n, site)) for n in ("one", "two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    assert len(seen) == 8
    first, second = (
        [at for holder, at in seen if holder == name] for name in dict.fromkeys(h for h, _ in seen)
    )
    # One holder's requests all came before the other's, and the gap is the host's delay.
    assert max(first) < min(second)
    assert min(second) - max(first) >= delay


def test_a_lease_left_by_a_killed_holder_expires_after_its_ttl(redis_broker, prefix):
    ttl = 3.0
    script = (
        "import redis, sys, time\n"
        "from jobs.hostlease import HostLease\n"
        f"lease = HostLease(redis.Redis.from_url({redis_broker!r}), {prefix!r}, {ttl})\n"
        f"assert lease.acquire([{HOST!r}], wait=5) is not None\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        held_at = time.monotonic()
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    other = lease(redis_broker, prefix)
    assert other.acquire([HOST], wait=0.2) is None  # still held: it was never released
    taken = other.acquire([HOST], wait=10)
    assert taken is not None
    assert ttl - 0.5 <= time.monotonic() - held_at <= ttl + 2


def test_a_holder_whose_lease_expired_does_not_release_the_next_ones(redis_broker, prefix):
    late = lease(redis_broker, prefix, ttl=0.3).acquire([HOST], wait=1)
    assert late is not None
    time.sleep(0.5)
    current = lease(redis_broker, prefix).acquire([HOST], wait=1)
    assert current is not None
    assert late.release({HOST: 5.0}) == {HOST: False}
    # The current holder still has it, and no gap was started by the late one.
    probe = lease(redis_broker, prefix)
    assert probe.acquire([HOST], wait=0.2) is None
    assert probe.free_in([HOST]) == 0.0
    assert current.release({}) == {HOST: True}
    assert probe.acquire([HOST], wait=0.2) is not None


def test_a_holder_that_cannot_take_every_host_gives_back_those_it_took(redis_broker, prefix):
    other = lease(redis_broker, prefix).acquire(["b.example"], wait=1)
    assert other is not None
    mine = lease(redis_broker, prefix)
    started = time.monotonic()
    assert mine.acquire(["b.example", "a.example"], wait=0.5) is None
    assert 0.5 <= time.monotonic() - started < 3
    # a.example (taken first: sorted order) was given back.
    assert lease(redis_broker, prefix).acquire(["a.example"], wait=0) is not None
