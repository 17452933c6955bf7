"""The shared HTTP rules, and one table run through both the poller and the crawl: they decide alike."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from crawler.config.load import load_config
from crawler.http_rules import (
    RobotsRule,
    conditional_headers,
    decode_body,
    gzip_is_complete,
    robots_allows,
    robots_rule,
    unchanged,
)
from crawler.probe import HANDOVER_ENV, Prober
from crawler.walks import crawl_target
from storage import walks
from storage.crawlstate import ensure_source
from storage.validators import Validators, body_hash, save_validators
from storage.walks import Progress
from tests.jobs.helpers import REPO, write_config
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import newsmon_engine, rows


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        (200, RobotsRule.PARSE),
        (204, RobotsRule.PARSE),
        (301, RobotsRule.REDIRECT),
        (404, RobotsRule.ALLOW_ALL),
        (403, RobotsRule.ALLOW_ALL),
        (500, RobotsRule.DISALLOW_ALL),
        (503, RobotsRule.DISALLOW_ALL),
        (None, RobotsRule.DISALLOW_ALL),  # unreachable
    ],
)
def test_robots_status_policy_follows_rfc_9309(status, rule):
    assert robots_rule(status) is rule


def test_robots_rules_are_read_as_scrapy_reads_them():
    rules = b"User-agent: *\nDisallow: /private/\n"
    assert robots_allows(rules, "http://x/feed.xml", "newsmon")
    assert not robots_allows(rules, "http://x/private/feed.xml", "newsmon")
    assert robots_allows(b"  \n", "http://x/private/", "newsmon")


def test_decoding_is_bounded_and_refuses_incomplete_streams():
    body = b"x" * 1000
    assert decode_body(gzip.compress(body), "gzip", 1000) == body
    assert decode_body(gzip.compress(body), "gzip", 999) is None
    assert decode_body(gzip.compress(body)[:-8], "gzip", 1000) is None
    assert decode_body(zlib.compress(body), "deflate", 1000) == body
    assert decode_body(body, None, 999) is None
    assert decode_body(body, "br", 10_000) is None  # never asked for, never vouched for
    assert gzip_is_complete(gzip.compress(body))
    assert not gzip_is_complete(gzip.compress(body)[:-8])


def test_conditional_headers_and_the_unchanged_verdict():
    stored = Validators(etag='"v1"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT", body_hash="h")
    assert conditional_headers(stored) == {
        "If-None-Match": '"v1"',
        "If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT",
    }
    assert conditional_headers(Validators()) == {}
    assert unchanged(304, None, stored)
    same = Validators(body_hash=body_hash(b"feed"))
    assert unchanged(200, b"feed", same)
    assert not unchanged(200, b"other", same)
    assert not unchanged(200, None, same)  # undecodable: nothing to vouch for
    assert not unchanged(500, b"feed", same)


# --- one table, two deciders -------------------------------------------------------------------


def feed(base: str, title: str = "t") -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>a</title><link>{base}/a1.html</link></item></channel></rss>"
    ).encode()


ARTICLE = b"<html><head><title>A</title></head><body><article><p>" + b"Words. " * 80 + b"</p>"


def etag_feed(base: str) -> Callable[[RecordedRequest], Response]:
    def handler(request: RecordedRequest) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(b"", 304, {"ETag": '"v1"'})
        return Response(feed(base), 200, {"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    return handler


@dataclass(frozen=True)
class Case:
    name: str
    expected: str  # unchanged | changed | failed | refused (the feed is never requested)
    robots: tuple[int, bytes] = (404, b"")
    encoding: str | None = None  # how the same feed is served
    served: str = "same"  # same | changed | truncated | oversized | etag
    etag: bool = False  # whether validators hold the ETag


CASES = [
    Case("plain", "unchanged"),
    Case("robotsok", "unchanged", robots=(200, b"User-agent: *\nAllow: /\n")),
    Case("robotsno", "refused", robots=(200, b"User-agent: *\nDisallow: /feed.xml\n")),
    Case("robots5xx", "refused", robots=(503, b"down")),
    Case("gzipped", "unchanged", encoding="gzip"),
    Case("deflated", "unchanged", encoding="deflate"),
    Case("truncated", "failed", encoding="gzip", served="truncated"),
    Case("oversized", "failed", served="oversized"),
    Case("etag", "unchanged", served="etag", etag=True),
    Case("changed", "changed", served="changed"),
]


def serve(site: LocalSite, case: Case) -> None:
    base = site.base_url
    site.add("/robots.txt", case.robots[1], status=case.robots[0])
    site.add("/a1.html", ARTICLE, content_type="text/html")
    body = {
        "same": feed(base),
        "changed": feed(base, "new"),
        "truncated": feed(base),
        "oversized": feed(base) + b"<!--" + b"x" * 5000 + b"-->",
    }.get(case.served, b"")
    if case.served == "etag":
        site.route("/feed.xml", etag_feed(base))
        return
    headers = {"Content-Type": "application/rss+xml"}
    if case.encoding == "gzip":
        body = gzip.compress(body)
        body = body[:-8] if case.served == "truncated" else body
    elif case.encoding == "deflate":
        body = zlib.compress(body)
    if case.encoding:
        headers["Content-Encoding"] = case.encoding
    site.add("/feed.xml", body, headers=headers)


@pytest.fixture
def sites() -> Iterator[dict[str, LocalSite]]:
    """One site per case: robots.txt is per host."""
    with ExitStack() as stack:
        yield {case.name: stack.enter_context(LocalSite()) for case in CASES}


def remember(config, engine, case: Case, site: LocalSite) -> None:
    """The validators and caught-up walk an earlier run would have saved."""
    source = next(s for s in config.sources if s.name == case.name)
    digest = hashlib.sha256(feed(site.base_url)).hexdigest()
    etag = '"v1"' if case.etag else None
    row = {"url": source.url, "etag": etag, "last_modified": None, "body_hash": digest}
    save_validators(engine, [{**row, "status": 200}])
    source_id = ensure_source(engine, source.name, source.mode, source.url)
    progress = Progress(caught_up=[(source.url, None)])
    walks.record(engine, source_id, walks.CRAWL, crawl_target(source), progress)


def decided(site: LocalSite, outcome: str) -> str:
    return "refused" if site.hits("/feed.xml") == 0 else outcome


@pytest.mark.slow
def test_the_poller_and_the_crawl_decide_alike(tmp_path, sites):
    for case in CASES:
        serve(sites[case.name], case)
    sources = "".join(
        f"  - name: {case.name}\n    feed: {sites[case.name].url('/feed.xml')}\n"
        + ("    politeness: {{max_page_bytes: 2000}}\n" if case.served == "oversized" else "")
        for case in CASES
    )
    path = write_config(tmp_path, sites["plain"], sources)
    path.write_text(path.read_text().replace("  retries: 1\n", "  retries: 0\n"))
    config = load_config(path)
    engine = newsmon_engine(config.database)
    for case in CASES:
        remember(config, engine, case, sites[case.name])

    with Prober(config) as prober:
        probes = prober.probe(config.sources, engine)
    polled = {case.name: decided(sites[case.name], probes[case.name].outcome) for case in CASES}
    for site in sites.values():
        site.requests.clear()

    # The crawl alone: the handover says every source was polled, with nothing to serve.
    handover = tmp_path / "polled.json"
    handover.write_text(json.dumps({case.name: [] for case in CASES}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env.update({"PYTHONPATH": str(REPO), HANDOVER_ENV: str(handover)})
    subprocess.run(
        [sys.executable, "-m", "jobs.cli", "--config", str(path), "crawl"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    crawled = {}
    query = "select s.name, r.errors from crawl_runs r join sources s on s.id = r.source_id"
    for name, errors in rows(tmp_path / "newsmon.db", query):
        site = sites[name]
        outcome = "failed" if errors else "changed" if site.hits("/a1.html") else "unchanged"
        crawled[name] = decided(site, outcome)

    expected = {case.name: case.expected for case in CASES}
    assert polled == expected
    assert crawled == expected
