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
import http.client
import logging
import ssl
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from crawler.addresses import allowed_private_hosts, open_checked
from crawler.config.models import Config, Politeness, Source
from crawler.fetchoptions import request_headers, user_agent, uses_probe
from crawler.walks import crawl_target
from storage import walks
from storage.validators import Validators, body_hash, validators_for

log = logging.getLogger(__name__)

# A hung host delays its crawl by at most this; then the crawl's own timeouts and retries apply.
PROBE_TIMEOUT = 10.0
MAX_HOSTS_AT_ONCE = 8
# Bodies held for the crawl to reuse; past this, a source's responses are dropped and fetched again.
MAX_HANDED_OVER_BYTES = 64 * 2**20
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
        encoding = (self.header("Content-Encoding") or "identity").strip().lower()
        if encoding == "identity":
            return self.body
        if encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":  # zlib-wrapped as RFC 9110 says, or raw as some servers send
            decoder = zlib.decompressobj(
                zlib.MAX_WBITS if self.body[:1] == b"x" else -zlib.MAX_WBITS
            )
        else:
            return None
        try:
            body = decoder.decompress(self.body, limit + 1)
        except zlib.error:
            return None
        return body if len(body) <= limit and decoder.eof else None


@dataclass
class Probe:
    """What the probe learnt about one source."""

    unchanged: bool = False
    why: str = ""  # why the crawl has to look, for the log
    fetched: dict[str, Fetched] = field(default_factory=dict)  # by URL, for the crawl to reuse
    discovery: Fetched | None = None  # the discovery URL's response, 304 included: its hints


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
    tls = ssl.create_default_context()
    if not source.tls_verify:
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    allowed = allowed_private_hosts(source)
    return urllib.request.build_opener(
        _NoRedirects, _GuardedHTTPHandler(allowed), _GuardedHTTPSHandler(allowed, tls)
    )


def auth_headers(source: Source) -> dict[str, str]:
    if source.credentials is None:
        return {}
    token = base64.b64encode(":".join(source.credentials).encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def probe_sources(config: Config, sources: Sequence[Source], engine: Engine) -> dict[str, Probe]:
    """Probe the sources whose last walk caught up (validators describe everything stored
    below their discovery URL); those of one host in turn."""
    sources = [source for source in sources if uses_probe(source)]
    caught_up = walks.caught_up_roots(
        engine, [(source.name, source.url, crawl_target(source)) for source in sources]
    )
    known = validators_for(engine, (source.url for source in sources if source.name in caught_up))
    by_host: dict[str, list[tuple[Source, Validators]]] = {}
    for source in sources:
        if source.url in known and source.name in caught_up:
            group = by_host.setdefault(urlsplit(source.url).netloc, [])
            group.append((source, known[source.url]))
    if not by_host:
        return {}
    probes: dict[str, Probe] = {}
    with ThreadPoolExecutor(min(len(by_host), MAX_HOSTS_AT_ONCE)) as pool:
        for host_probes in pool.map(lambda group: HostProbe(config).run(group), by_host.values()):
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
    """Requests to one host, one at a time and `delay` apart, as the crawl would send them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.openers: dict[str, urllib.request.OpenerDirector] = {}  # by source name
        self.last_request_at: float | None = None
        self.robots: Fetched | ProbeError | None = None

    def run(self, group: Sequence[tuple[Source, Validators]]) -> dict[str, Probe]:
        return {source.name: self.probe(source, validators) for source, validators in group}

    def probe(self, source: Source, validators: Validators) -> Probe:
        politeness = self.config.politeness_for(source)
        probe = Probe()
        if politeness.obey_robots:
            robots = self.robots_txt(source, politeness)
            if isinstance(robots, ProbeError):
                probe.why = f"robots.txt: {robots}"
                return probe
            probe.fetched[robots.url] = robots
            refusal = self.robots_refusal(robots, source, politeness)
            if refusal:
                probe.why = refusal
                return probe
        try:
            # `conditional: false`: the server's 304s are not trusted; the body hash decides.
            headers = conditional_headers(validators) if source.conditional is not False else {}
            response = self.get(source, source.url, politeness, headers)
        except ProbeError as error:
            probe.why = str(error)
            return probe
        probe.discovery = response
        if response.status == 304:
            probe.unchanged = True
            return probe
        probe.fetched[response.url] = response
        if response.status != 200:
            probe.why = f"HTTP {response.status}"
            return probe
        body = response.decoded_body(politeness.max_page_bytes)
        same = body is not None and body_hash(body) == validators.body_hash
        probe.unchanged, probe.why = same, "" if same else "changed"
        return probe

    def robots_txt(self, source: Source, politeness: Politeness) -> Fetched | ProbeError:
        if self.robots is None:
            parts = urlsplit(source.url)
            try:
                robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
                self.robots = self.get(source, robots_url, politeness)
            except ProbeError as error:
                self.robots = error
        return self.robots

    def robots_refusal(self, robots: Fetched, source: Source, politeness: Politeness) -> str | None:
        """None when robots.txt lets the probe go on, else why the crawl should judge
        (robots.txt as crawler/robots.py and Scrapy read it)."""
        if 400 <= robots.status < 500:
            return None  # RFC 9309: unavailable, so no rules
        if robots.status != 200:
            return f"robots.txt answered HTTP {robots.status}"
        body = robots.decoded_body(politeness.max_page_bytes)
        if body is None:
            return "robots.txt has an unknown encoding"
        if not body.strip():
            return None
        from protego import Protego  # what Scrapy's robots.txt middleware parses with

        rules = Protego.parse(body.decode("utf-8-sig", errors="ignore"))
        allowed = rules.can_fetch(source.url, user_agent(self.config, source))
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
            time.sleep(max(0.0, self.last_request_at + politeness.delay - time.monotonic()))
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


def conditional_headers(validators: Validators) -> dict[str, str]:
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def read_limited(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """The whole body, unless it is larger than `limit` or arrives after `deadline`."""
    chunks, size = [], 0
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ProbeError(f"body larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise ProbeError("timed out reading the body")
        chunks.append(chunk)
    return b"".join(chunks)
