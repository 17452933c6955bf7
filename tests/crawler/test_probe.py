"""The pre-crawl probe against a local server: what it settles, and what it leaves to the crawl."""

from __future__ import annotations

import base64
import gzip
import hashlib
import time
import zlib

import pytest

from crawler.config.load import load_config
from crawler.probe import Fetched, HostProbe, ProbeError, probe_sources
from crawler.walks import crawl_target
from storage import walks
from storage.crawlstate import ensure_source
from storage.validators import save_validators
from storage.walks import Progress
from tests.faults.server import FaultSite
from tests.faults.tls import self_signed
from tests.jobs.helpers import write_config
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import newsmon_engine

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def site():
    with LocalSite() as site:
        yield site


def setup(tmp_path, site, sources: str, extra: str = ""):
    config = load_config(write_config(tmp_path, site, sources, extra))
    return config, newsmon_engine(config.database)


def remember(
    config, engine, url: str, body: bytes = FEED, etag: str | None = None, caught_up: bool = True
) -> None:
    """Validators, and the walk state, as an earlier run would have saved them."""
    digest = hashlib.sha256(body).hexdigest()
    save_validators(
        engine,
        [{"url": url, "etag": etag, "last_modified": None, "body_hash": digest, "status": 200}],
    )
    for source in config.sources:
        if source.url == url:
            source_id = ensure_source(engine, source.name, source.mode, source.url)
            progress = Progress(caught_up=[(url, None)]) if caught_up else Progress([(url, None)])
            walks.record(engine, source_id, walks.CRAWL, crawl_target(source), progress)


def fetched(body: bytes, encoding: str | None = None) -> Fetched:
    headers = (("Content-Encoding", encoding),) if encoding else ()
    return Fetched("http://x/feed", 200, headers, body)


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (FEED, None),
        (gzip.compress(FEED), "gzip"),
        (gzip.compress(FEED), "x-gzip"),
        (zlib.compress(FEED), "deflate"),
        (zlib.compress(FEED)[2:-4], "deflate"),  # raw deflate, as some servers send it
    ],
)
def test_decoded_body_undoes_the_content_encoding(body, encoding):
    assert fetched(body, encoding).decoded_body(limit=10_000) == FEED


@pytest.mark.parametrize(
    ("body", "encoding", "limit"),
    [
        (FEED, "br", 10_000),  # unknown here: the crawl decodes and compares it
        (gzip.compress(FEED)[:-8], "gzip", 10_000),  # truncated
        (b"not gzip at all", "gzip", 10_000),
        (gzip.compress(b"x" * 100_000), "gzip", 50_000),  # a decompression bomb, bounded
    ],
)
def test_decoded_body_refuses_what_it_cannot_vouch_for(body, encoding, limit):
    assert fetched(body, encoding).decoded_body(limit) is None


def test_a_source_without_validators_is_not_probed(tmp_path, site):
    site.add("/feed.xml", FEED, content_type="application/rss+xml")
    config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    assert probe_sources(config, config.sources, engine) == {}
    assert site.requests == []


def test_a_source_whose_last_walk_did_not_catch_up_is_not_probed(tmp_path, site):
    site.add("/feed.xml", FEED, content_type="application/rss+xml")
    site.add("/other.xml", FEED, content_type="application/rss+xml")
    config, engine = setup(
        tmp_path,
        site,
        "  - name: feed\n    feed: {base}/feed.xml\n  - name: other\n    feed: {base}/other.xml\n",
    )
    # Validators from an earlier walk, but the walk since was cut short (killed, say).
    remember(config, engine, site.url("/feed.xml"), caught_up=False)
    remember(config, engine, site.url("/other.xml"))
    assert set(probe_sources(config, config.sources, engine)) == {"other"}
    assert site.hits("/feed.xml") == 0


def test_the_same_body_without_validators_is_unchanged_even_gzipped(tmp_path, site):
    site.add("/a.xml", FEED, content_type="application/rss+xml")
    site.add("/b.xml", gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    site.add("/c.xml", FEED + b"<!-- new -->", content_type="application/rss+xml")
    config, engine = setup(
        tmp_path,
        site,
        "  - name: a\n    feed: {base}/a.xml\n  - name: b\n    feed: {base}/b.xml\n"
        "  - name: c\n    feed: {base}/c.xml\n",
    )
    for path in ("/a.xml", "/b.xml", "/c.xml"):
        remember(config, engine, site.url(path))

    probes = probe_sources(config, config.sources, engine)
    assert probes["a"].unchanged and probes["b"].unchanged
    assert not probes["c"].unchanged and probes["c"].why == "changed"
    # What the crawl will reuse instead of fetching: c's robots.txt and feed.
    assert set(probes["c"].fetched) == {site.url("/robots.txt"), site.url("/c.xml")}
    # One robots.txt for the host, however many of its sources are probed.
    assert site.hits("/robots.txt") == 1


def test_bodies_handed_to_the_crawl_stay_within_a_budget(tmp_path, site, monkeypatch):
    site.add("/robots.txt", b"", status=404)
    for path in ("/a.xml", "/b.xml"):
        site.add(path, FEED + path.encode(), content_type="application/rss+xml")
    config, engine = setup(
        tmp_path, site, "  - name: a\n    feed: {base}/a.xml\n  - name: b\n    feed: {base}/b.xml\n"
    )
    for path in ("/a.xml", "/b.xml"):
        remember(config, engine, site.url(path))
    monkeypatch.setattr("crawler.probe.MAX_HANDED_OVER_BYTES", len(FEED) + 10)
    probes = probe_sources(config, config.sources, engine)
    assert list(probes["a"].fetched) == [site.url("/robots.txt"), site.url("/a.xml")]
    assert probes["b"].fetched == {}  # over the budget: the crawl fetches b again
    assert not probes["b"].unchanged


def test_conditional_headers_go_out_and_a_304_is_unchanged(tmp_path, site):
    config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    site.route(
        "/feed.xml",
        lambda request: Response(
            b"", 304 if request.headers.get("If-None-Match") == '"v1"' else 200
        ),
    )
    remember(config, engine, site.url("/feed.xml"), etag='"v1"')
    assert probe_sources(config, config.sources, engine)["feed"].unchanged
    [feed] = [r for r in site.requests if r.path == "/feed.xml"]
    assert feed.headers["User-Agent"] == "newsmon-tests/0.1"


def test_conditional_false_sends_no_validators_and_compares_the_body(tmp_path, site):
    config, engine = setup(
        tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n    conditional: false\n"
    )
    # A server that lies: 304 to any conditional request, although the feed changed.
    site.route(
        "/feed.xml",
        lambda request: (
            Response(b"", 304)
            if request.headers.get("If-None-Match")
            else Response(FEED + b"<!-- new -->")
        ),
    )
    remember(config, engine, site.url("/feed.xml"), etag='"v1"')
    probe = probe_sources(config, config.sources, engine)["feed"]
    assert not probe.unchanged and probe.why == "changed"
    [feed] = [r for r in site.requests if r.path == "/feed.xml"]
    assert "If-None-Match" not in feed.headers


@pytest.mark.parametrize(
    ("robots_status", "robots_body", "settled", "why"),
    [
        (404, b"", True, ""),  # RFC 9309: unavailable, no rules
        (200, b"User-agent: *\nDisallow: /feed.xml\n", False, "robots.txt disallows it"),
        (500, b"", False, "robots.txt answered HTTP 500"),  # complete disallow: the crawl says so
        (301, b"", False, "robots.txt answered HTTP 301"),
    ],
)
def test_robots_txt_is_obeyed_as_the_crawl_would(
    tmp_path, site, robots_status, robots_body, settled, why
):
    site.add("/robots.txt", robots_body, status=robots_status, headers={"Location": "/x"})
    site.add("/feed.xml", FEED, content_type="application/rss+xml")
    config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    remember(config, engine, site.url("/feed.xml"))
    probe = probe_sources(config, config.sources, engine)["feed"]
    assert (probe.unchanged, probe.why) == (settled, why)
    assert site.hits("/feed.xml") == (1 if settled else 0)


def test_a_dead_host_is_left_to_the_crawl(tmp_path):
    with LocalSite() as site:
        config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
        remember(config, engine, site.url("/feed.xml"))
    probe = probe_sources(config, config.sources, engine)["feed"]  # the server is gone
    assert not probe.unchanged and "refused" in probe.why.lower()
    assert probe.fetched == {}


def test_an_oversized_body_is_not_read_past_the_limit(tmp_path, site):
    site.add("/feed.xml", b"x" * 200_000, content_type="application/rss+xml")
    config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    politeness = config.politeness.model_copy(update={"max_page_bytes": 100_000})
    with pytest.raises(ProbeError, match="larger than 100000 bytes"):
        HostProbe(config).get(config.sources[0], site.url("/feed.xml"), politeness)


def test_requests_to_one_host_keep_the_delay(tmp_path, site):
    site.add("/feed.xml", FEED, content_type="application/rss+xml")
    config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    politeness = config.politeness.model_copy(update={"delay": 0.3})
    probe = HostProbe(config)
    started = time.monotonic()
    probe.get(config.sources[0], site.url("/robots.txt"), politeness)
    probe.get(config.sources[0], site.url("/feed.xml"), politeness)
    assert time.monotonic() - started >= 0.3


def test_url_credentials_go_as_basic_auth_and_never_in_the_request_line(tmp_path, site):
    expected = "Basic " + base64.b64encode(b"news:pa@ss").decode()

    def feed(request: RecordedRequest) -> Response:
        if request.headers.get("Authorization") != expected:
            return Response(b"", 401)
        return Response(FEED, headers={"Content-Type": "application/rss+xml"})

    site.route("/feed.xml", feed)
    url = site.url("/feed.xml").replace("://", "://news:pa%40ss@")
    config, engine = setup(tmp_path, site, f"  - name: feed\n    feed: {url}\n")
    remember(config, engine, site.url("/feed.xml"))  # validators are kept by the URL as requested
    assert probe_sources(config, config.sources, engine)["feed"].unchanged
    assert [r.headers.get("Authorization") for r in site.requests] == [expected, expected]
    assert all("pa" not in r.path for r in site.requests)


@pytest.mark.parametrize("tls_verify", [True, False])
def test_certificates_are_verified_unless_the_source_opts_out(tmp_path, tls_verify):
    with FaultSite(tls=self_signed(["127.0.0.1"]).server_context(tmp_path, "self")) as site:
        site.add("/feed.xml", FEED, content_type="application/rss+xml")
        extra = "" if tls_verify else "    tls_verify: false\n"
        config, engine = setup(
            tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n" + extra
        )
        remember(config, engine, site.url("/feed.xml"))
        probe = probe_sources(config, config.sources, engine)["feed"]
    if tls_verify:
        assert not probe.unchanged and "CERTIFICATE_VERIFY_FAILED" in probe.why
    else:
        assert probe.unchanged


def test_the_probe_connects_only_where_the_guard_allows(tmp_path, site, monkeypatch):
    # A source's own host is always allowed; were the probe ever to reach another, the rule of
    # the crawl applies: here the allow-list is made empty, so 127.0.0.1 is refused.
    site.add("/feed.xml", FEED, content_type="application/rss+xml")
    config, engine = setup(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    remember(config, engine, site.url("/feed.xml"))
    monkeypatch.setattr("crawler.probe.allowed_private_hosts", lambda source: set())
    probe = probe_sources(config, config.sources, engine)["feed"]
    assert not probe.unchanged and "private" in probe.why
    assert site.requests == []
