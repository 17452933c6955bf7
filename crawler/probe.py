"""Before Scrapy starts: ask each source whether its discovery page changed since the last run.

Starting Scrapy costs a crawl process about 0.6 s of imports before its first request, and on
a cron schedule most runs find every feed unchanged. So a source whose last walk caught
up (crawler/walks.py: everything below its discovery URL stored) is first asked the crawl's
own question, with the standard library: robots.txt, then a conditional GET (If-None-Match / If-Modified-Since), or the body
hash when the server keeps no validators. "Unchanged" settles the source: the crawl would
fetch and parse nothing more, whatever its mode (crawler/incremental.py skips an unchanged
first discovery page). Any other answer leaves the source to the crawl, which is handed every
response the probe received in full (PrefetchedResponseMiddleware): nothing is fetched twice.
The probe decides nothing it is unsure of; a redirect, an error or an oversized body is left
to the crawl's retries, redirect checks and error counts.

Only the configured URL and its host's robots.txt are requested, never a URL a page points
to. Connections still go through the private-address guard (crawler/addresses.py) with the
source's allow-list, certificates are verified unless the source says tls_verify: false, and
the URL's user:password goes in an Authorization header. This module imports no Scrapy.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from crawler.addresses import allowed_private_hosts, open_checked
from crawler.config.models import Config, Politeness, Source
from crawler.fetchoptions import request_headers, user_agent, uses_probe
from crawler.http_rules import (
    RobotsRule,
    conditional_headers,
    decode_body,
    robots_allows,
    robots_rule,
    same_validators,
    too_large,
    unchanged,
)
from crawler.urls import host_key
from crawler.walks import crawl_target
from storage import walks
from storage.validators import Validators, validators_for

log = logging.getLogger(__name__)

# A hung host delays its crawl by at most this; then the crawl's own timeouts and retries apply.
PROBE_TIMEOUT = 10.0
MAX_HOSTS_AT_ONCE = 8
# How long a poller that outlives one run trusts a robots.txt (RFC 9309 §2.4 allows 24 h).
ROBOTS_MAX_AGE = 3600.0
# Bodies held for the crawl to reuse; past this, a source's responses are dropped and fetched again.
MAX_HANDED_OVER_BYTES = 64 * 2**20
# Set by the daemon for a crawl child: the file of the responses its polls received.
HANDOVER_ENV = "NEWSMON_POLLED"
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # as Scrapy sends


@dataclass(frozen=True)
class Fetched:
    """A response received in full: its body as it came off the wire (maybe compressed)."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def decoded_body(self, limit: int) -> bytes | None:
        """The body without its Content-Encoding; None when unknown or larger than `limit`."""
        return decode_body(self.body, self.header("Content-Encoding"), limit)


def write_handover(path: Path, fetched: Mapping[str, Mapping[str, Fetched]]) -> None:
    """Save what polls received, by source and URL, for a crawl child to be served
    (a private file of the daemon's; bodies as base64 in JSON, never pickled)."""
    document = {
        name: [
            [r.url, r.status, list(map(list, r.headers)), base64.b64encode(r.body).decode()]
            for r in responses.values()
        ]
        for name, responses in fetched.items()
    }
    path.write_text(json.dumps(document), encoding="utf-8")


def read_handover(path: Path) -> dict[str, dict[str, Fetched]]:
    """What write_handover saved: every source named was polled, some with responses."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: {
            url: Fetched(url, status, tuple((k, v) for k, v in headers), base64.b64decode(body))
            for url, status, headers, body in responses
        }
        for name, responses in document.items()
    }


@dataclass
class Probe:
    """What the probe learnt about one source."""

    unchanged: bool = False
    why: str = ""  # why the crawl has to look, for the log
    failed: bool = False  # no usable answer: an error, an error status, robots.txt unreadable
    fetched: dict[str, Fetched] = field(default_factory=dict)  # by URL, for the crawl to reuse
    discovery: Fetched | None = None  # the discovery URL's response, 304 included: its hints
    conditional_sent: bool = False  # If-None-Match / If-Modified-Since went out
    # A 200 whose ETag / Last-Modified are the stored ones: had the request been conditional,
    # the server would have claimed 304 (jobs/cadence.py: validators that lie).
    same_validators: bool = False

    @property
    def outcome(self) -> str:
        """unchanged, changed or failed: what /metrics counts polls by."""
        return "unchanged" if self.unchanged else "failed" if self.failed else "changed"


class ProbeError(Exception):
    """The probe got no complete response (connection error, timeout, oversized body)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A 3xx comes back as a response: the crawl follows it with its own redirect checks.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _guarded(connection_class: type[http.client.HTTPConnection], allowed: set[str]) -> Any:
    """`connection_class`, connecting only to an address the guard accepts for `allowed`."""

    def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        made = connection_class(host, **kwargs)
        # http.client's own hook for how the socket is made (an instance attribute).
        made._create_connection = lambda address, timeout, *_: open_checked(  # type: ignore[attr-defined]
            address, timeout, allowed
        )
        return made

    return connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allowed: set[str]) -> None:
        super().__init__()
        self.allowed = allowed

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_guarded(http.client.HTTPConnection, self.allowed), req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allowed: set[str], tls: ssl.SSLContext) -> None:
        super().__init__(context=tls)
        self.allowed, self.tls = allowed, tls

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = _guarded(http.client.HTTPSConnection, self.allowed)
        return self.do_open(connection, req, context=self.tls)


def opener_for(source: Source) -> urllib.request.OpenerDirector:
    """urllib as the crawl would fetch for `source`: no redirects, the guard, its TLS rule."""
    allowed = allowed_private_hosts(source)
    return urllib.request.build_opener(
        _NoRedirects,
        _GuardedHTTPHandler(allowed),
        _GuardedHTTPSHandler(allowed, tls_context(source.tls_verify)),
    )


@functools.cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """One per rule for the process: loading the CA store costs milliseconds each time."""
    tls = ssl.create_default_context()
    if not verify:
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    return tls


def auth_headers(source: Source) -> dict[str, str]:
    if source.credentials is None:
        return {}
    token = base64.b64encode(":".join(source.credentials).encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def probe_sources(
    config: Config, sources: Sequence[Source], engine: Engine, unconditional: Collection[str] = ()
) -> dict[str, Probe]:
    """Probe the sources whose last walk caught up, once (what `newsmon crawl` does); those
    named in `unconditional` without their validators."""
    with Prober(config) as prober:
        return prober.probe(sources, engine, unconditional)


class Prober:
    """Probes run by one process over time: the daemon's polls, or one crawl's probe.

    Each host has one HostProbe, so requests to it go one at a time and `delay` apart across
    polls, robots.txt is read again only after ROBOTS_MAX_AGE, and connections are set up
    once per source. Hosts are probed in parallel, at most `max_hosts` at once.
    """

    def __init__(self, config: Config, max_hosts: int = MAX_HOSTS_AT_ONCE) -> None:
        self.config = config
        self.hosts: dict[str, HostProbe] = {}
        self.pool = ThreadPoolExecutor(max_hosts, thread_name_prefix="probe")

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def probe(
        self, sources: Sequence[Source], engine: Engine, unconditional: Collection[str] = ()
    ) -> dict[str, Probe]:
        """Probe those of `sources` whose last walk caught up (validators describe
        everything stored below their discovery URL); those of one host in turn. Sources
        named in `unconditional` are asked without their validators (the body hash decides).
        A source the probe may not ask for (fetchoptions.uses_probe) is left to the crawl."""
        sources = [source for source in sources if uses_probe(source)]
        caught_up = walks.caught_up_roots(
            engine, [(source.name, source.url, crawl_target(source)) for source in sources]
        )
        known = validators_for(
            engine, (source.url for source in sources if source.name in caught_up)
        )
        by_host: dict[str, list[tuple[Source, Validators, bool]]] = {}
        for source in sources:
            if source.url in known and source.name in caught_up:
                group = by_host.setdefault(host_key(source.url), [])
                group.append((source, known[source.url], source.name not in unconditional))
        probes: dict[str, Probe] = {}
        hosts = [self.hosts.setdefault(host, HostProbe(self.config)) for host in by_host]
        for host_probes in self.pool.map(HostProbe.run, hosts, by_host.values()):
            probes.update(host_probes)
        held = 0
        for name, probe in probes.items():
            log.debug("%s: %s", name, "unchanged" if probe.unchanged else f"crawl ({probe.why})")
            if probe.unchanged:
                probe.fetched.clear()
            size = sum(len(response.body) for response in probe.fetched.values())
            if held + size > MAX_HANDED_OVER_BYTES:
                probe.fetched.clear()
            else:
                held += size
        return probes


class HostProbe:
    """Requests to one host, one at a time and `delay` apart, as the crawl would send them.

    The host's budget: every source on it shares this object, so their requests never overlap
    and never come closer than the largest `delay` among them.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.openers: dict[str, urllib.request.OpenerDirector] = {}  # by source name
        self.last_request_at: float | None = None
        self.robots: Fetched | ProbeError | None = None
        self.robots_at = 0.0
        self.busy = threading.Lock()  # one probe of this host at a time, even across polls
        self.gap = 0.0  # the largest delay of the sources seen on this host

    def run(self, group: Sequence[tuple[Source, Validators, bool]]) -> dict[str, Probe]:
        with self.busy:
            # An error is kept for this run only; an answer for ROBOTS_MAX_AGE.
            stale = time.monotonic() - self.robots_at > ROBOTS_MAX_AGE
            if isinstance(self.robots, ProbeError) or stale:
                self.robots = None
            for source, _, _ in group:
                self.gap = max(self.gap, self.config.politeness_for(source).delay)
            return {
                source.name: self.probe(source, validators, conditional)
                for source, validators, conditional in group
            }

    def probe(self, source: Source, validators: Validators, conditional: bool = True) -> Probe:
        politeness = self.config.politeness_for(source)
        probe = Probe()
        if politeness.obey_robots:
            robots = self.robots_txt(source, politeness)
            if isinstance(robots, ProbeError):
                probe.why, probe.failed = f"robots.txt: {robots}", True
                return probe
            probe.fetched[robots.url] = robots
            refusal = self.robots_refusal(robots, source, politeness)
            if refusal:
                # Refused (5xx, disallowed, undecodable) is a failed poll; a redirect is the
                # crawl's to follow.
                probe.why, probe.failed = refusal, not 300 <= robots.status < 400
                return probe
        try:
            # `conditional: false`: the server's 304s are not trusted; the body hash decides.
            trusted = conditional and source.conditional is not False
            headers = conditional_headers(validators) if trusted else {}
            probe.conditional_sent = bool(headers)
            response = self.get(source, source.url, politeness, headers)
        except ProbeError as error:
            probe.why, probe.failed = str(error), True
            return probe
        probe.discovery = response
        probe.same_validators = response.status == 200 and same_validators(
            response.header("ETag"), response.header("Last-Modified"), validators
        )
        if response.status != 304:
            probe.fetched[response.url] = response
        body = response.decoded_body(politeness.max_page_bytes)
        probe.unchanged = unchanged(response.status, body, validators)
        if not probe.unchanged:
            # An error status, or a body it cannot vouch for (corrupt, too large): the crawl
            # counts what went wrong.
            probe.failed = response.status >= 400 or (response.status == 200 and body is None)
            probe.why = "changed" if response.status == 200 else f"HTTP {response.status}"
        return probe

    def robots_txt(self, source: Source, politeness: Politeness) -> Fetched | ProbeError:
        if self.robots is None:
            parts = urlsplit(source.url)
            try:
                robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
                self.robots = self.get(source, robots_url, politeness)
            except ProbeError as error:
                self.robots = error
            self.robots_at = time.monotonic()
        return self.robots

    def robots_refusal(self, robots: Fetched, source: Source, politeness: Politeness) -> str | None:
        """None when robots.txt lets the probe go on, else why the crawl should judge
        (robots.txt as crawler/robots.py and Scrapy read it)."""
        rule = robots_rule(robots.status)
        if rule is RobotsRule.ALLOW_ALL:
            return None
        if rule is not RobotsRule.PARSE:
            return f"robots.txt answered HTTP {robots.status}"
        body = robots.decoded_body(politeness.max_page_bytes)
        if body is None:
            return "robots.txt has an unknown encoding"
        allowed = robots_allows(body, source.url, user_agent(self.config, source))
        return None if allowed else "robots.txt disallows it"

    def get(
        self,
        source: Source,
        url: str,
        politeness: Politeness,
        headers: dict[str, str] | None = None,
    ) -> Fetched:
        """One request for `source` (its URL or its host's robots.txt, on the same host:port,
        so its credentials go too)."""
        if self.last_request_at is not None:
            gap = max(self.gap, politeness.delay)
            time.sleep(max(0.0, self.last_request_at + gap - time.monotonic()))
        self.last_request_at = time.monotonic()
        timeout = min(politeness.timeout, PROBE_TIMEOUT)
        request = urllib.request.Request(
            url,
            headers={
                "Accept": ACCEPT,
                "Accept-Language": "en",
                "Accept-Encoding": "gzip, deflate",
                **request_headers(self.config, source, url),
                **auth_headers(source),
                **(headers or {}),
            },
        )
        try:
            try:
                if source.name not in self.openers:  # a TLS context loads the CA store: once
                    self.openers[source.name] = opener_for(source)
                response = self.openers[source.name].open(request, timeout=timeout)
            except urllib.error.HTTPError as error:  # a 304, 3xx, 4xx or 5xx is an answer too
                response = error
            with response:
                body = read_limited(
                    response, politeness.max_page_bytes, self.last_request_at + timeout
                )
                return Fetched(url, response.status, tuple(response.headers.items()), body)
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise ProbeError(str(error) or type(error).__name__) from None


def read_limited(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """The whole body, unless it is larger than `limit` or arrives after `deadline`."""
    chunks, size = [], 0
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if too_large(size, limit):
            raise ProbeError(f"body larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise ProbeError("timed out reading the body")
        chunks.append(chunk)
    return b"".join(chunks)
