"""jobs/poller.py: the daemon's polls share one budget per host, and tell the cadence what
they saw."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from crawler.config.load import load_config
from jobs.poller import Poll, Poller, poll_of
from storage.db import make_engine
from tests.jobs.helpers import newsmon, write_config
from tests.localsite import LocalSite, RecordedRequest, Response

pytestmark = pytest.mark.slow

DELAY = 0.3


class Recorder:
    """A feed handler that records when each request came and how many were in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.times: list[float] = []

    def handler(self, name: str):
        def respond(_request: RecordedRequest) -> Response:
            with self.lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                self.times.append(time.monotonic())
            time.sleep(0.05)  # long enough for an overlapping request to show
            with self.lock:
                self.in_flight -= 1
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            return Response((body + "</channel></rss>").encode(), 200, {"ETag": f'"{name}"'})

        return respond


def test_polls_of_two_sources_on_one_host_share_its_delay_and_never_overlap(tmp_path):
    recorder = Recorder()
    with LocalSite() as site:
        site.route("/robots.txt", lambda _r: Response(b"", 404))
        for name in ("one", "two"):
            site.route(f"/{name}.xml", recorder.handler(name))
        sources = "".join(f"  - name: {n}\n    feed: {{base}}/{n}.xml\n" for n in ("one", "two"))
        config_path = write_config(tmp_path, site, sources)
        first = newsmon(config_path, "crawl")  # stores validators: the sources can be polled
        assert first.returncode == 0, first.stderr
        config = load_config(config_path)
        config = config.model_copy(
            update={"politeness": config.politeness.model_copy(update={"delay": DELAY})}
        )
        engine = make_engine(config.database)
        poller = Poller(config)
        recorder.times.clear()
        recorder.most_in_flight = 0  # the crawl above ran requests in parallel
        try:
            # Two ticks at once, each polling both sources, as overlapping ticks would.
            results: list[dict[str, Poll]] = []
            threads = [
                threading.Thread(target=lambda: results.append(poller.poll(engine, config.sources)))
                for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            poller.close()
    assert [sorted(r) for r in results] == [["one", "two"], ["one", "two"]]
    assert all(poll.outcome == "unchanged" for r in results for poll in r.values())
    assert recorder.most_in_flight == 1
    assert len(recorder.times) == 4
    gaps = [b - a for a, b in zip(recorder.times, recorder.times[1:], strict=False)]
    assert min(gaps) >= DELAY * 0.95, gaps  # the host's delay, across sources and ticks


def test_an_unconditional_answer_with_the_stored_validators_and_new_items_is_a_lie():
    from crawler.config.models import Source
    from crawler.probe import Probe

    source = Source.model_validate({"name": "wire", "feed": "https://example.org/feed.xml"})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    caught = Probe(conditional_sent=False, same_validators=True)
    assert Poll(source, caught).observation(at, "ok", new_items=2).validators_lied
    # Nothing new behind it, a conditional request, or other validators: no evidence.
    assert not Poll(source, caught).observation(at, "ok", new_items=0).validators_lied
    sent = Probe(conditional_sent=True, same_validators=True)
    assert not Poll(source, sent).observation(at, "ok", new_items=2).validators_lied
    other = Probe(conditional_sent=False, same_validators=False)
    assert not Poll(source, other).observation(at, "ok", new_items=2).validators_lied
    assert Poll(source, caught).observation(at, "failed").outcome == "failed"
    assert Poll(source, Probe(unchanged=True)).observation(at).outcome == "unchanged"


def test_entries_and_hints_come_from_the_discovery_response(tmp_path):
    from crawler.config.models import Source
    from crawler.probe import Fetched, Probe

    with LocalSite() as site:
        config = load_config(write_config(tmp_path, site, "  - name: a\n    feed: {base}/a\n"))
    poller = Poller(config)
    try:
        source = Source.model_validate({"name": "wire", "feed": "https://example.org/feed.xml"})
        body = b"<rss><channel><ttl>90</ttl><item>a</item><item>b</item></channel></rss>"
        response = Fetched(source.url, 200, (("Cache-Control", "max-age=600"),), body)
        poll = poll_of(config, source, Probe(discovery=response), datetime.now(UTC))
    finally:
        poller.close()
    assert poll.entries_seen == 2
    assert (poll.hints.ttl, poll.hints.max_age) == (5400.0, 600.0)


def test_a_crawl_child_starts_only_once_no_poll_of_its_host_is_in_flight(tmp_path):
    from crawler.probe import HostProbe

    with LocalSite() as site:
        config = load_config(write_config(tmp_path, site, "  - name: a\n    feed: {base}/a\n"))
    poller = Poller(config)
    try:
        budget = poller.prober.hosts.setdefault("news.example", HostProbe(config))
        budget.busy.acquire()  # a poll of the host under way
        held = threading.Thread(target=poller.hold_off, args=(["https://News.example/feed"],))
        held.start()
        held.join(0.3)
        assert held.is_alive()  # waiting for the poll
        budget.busy.release()
        held.join(10)
        assert not held.is_alive()
        # The crawl's start is the host's latest request: the next poll waits its gap after it.
        assert budget.last_request_at is not None
        poller.hold_off(["https://elsewhere.example/"])  # a host never polled: no wait
    finally:
        poller.close()
