"""A source's headers, cookies, User-Agent and proxy, end to end: the fixture servers see them
on that source's requests only (the crawl's and the probe's), and `newsmon check` never prints
their secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.jobs.helpers import newsmon, write_config
from tests.jobs.scriptsite import PROXY_MARK, RecordingProxy, feed_site, serve_feed
from tests.localsite import LocalSite, RecordedRequest
from tests.services import rows

pytestmark = pytest.mark.slow

# <DRESSED>, <HEADED>, <PLAIN> and <PROXY> are replaced with the servers' addresses; the ${VARS} come from ENV.
SOURCES = """\
  - name: dressed
    feed: <DRESSED>/dressed/feed.xml
    headers:
      Accept-Language: en-GB
      X-Api-Key: "${API_KEY}"
    cookies:
      consent: "${CONSENT}"
    user_agent: "dressed-agent/1.0"
    proxy: "http://user:${PROXY_PASSWORD}@<PROXY>"
  - name: headed
    feed: <HEADED>/headed/feed.xml
    headers:
      Accept-Language: ur-PK
    cookies:
      region: pk
  - name: plain
    feed: <PLAIN>/plain/feed.xml
"""
ENV = {"API_KEY": "k3y-secret", "CONSENT": "c0nsent-secret", "PROXY_PASSWORD": "pr0xy-secret"}


@pytest.fixture
def sites() -> Iterator[dict[str, LocalSite]]:
    made = {name: feed_site(name) for name in ("dressed", "headed", "plain")}
    made["proxy"] = RecordingProxy()
    for site in made.values():
        site.start()
    try:
        for name in ("dressed", "headed", "plain"):
            serve_feed(made[name], name)
        yield made
    finally:
        for site in made.values():
            site.stop()


def header(request: RecordedRequest, name: str) -> str | None:
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), None)


def test_each_source_sends_its_own_options_and_no_other_source_sees_them(tmp_path, sites):
    sources = (
        SOURCES.replace("<DRESSED>", sites["dressed"].base_url)
        .replace("<HEADED>", sites["headed"].base_url)
        .replace("<PLAIN>", sites["plain"].base_url)
        .replace("<PROXY>", sites["proxy"].base_url.removeprefix("http://"))
    )
    # write_config formats its sources: braces (none here but in ${VARS}) are doubled.
    config = write_config(tmp_path, sites["plain"], sources.replace("{", "{{").replace("}", "}}"))
    for _ in range(2):  # the second run's feed requests come from the probe
        result = newsmon(config, "crawl", env=ENV)
        assert result.returncode == 0, result.stderr
    statuses = rows(tmp_path / "newsmon.db", "select status from crawl_runs")
    assert statuses == [("ok",)] * 6
    assert len(rows(tmp_path / "newsmon.db", "select id from items")) == 6

    dressed = sites["dressed"].requests
    assert {r.path for r in dressed} >= {"/robots.txt", "/dressed/feed.xml", "/dressed/story-1"}
    for request in dressed:
        assert header(request, "User-Agent") == "dressed-agent/1.0"
        assert header(request, "Accept-Language") == "en-GB"
        assert header(request, "X-Api-Key") == "k3y-secret"
        assert header(request, "Cookie") == "consent=c0nsent-secret"
        assert header(request, PROXY_MARK) == "1"  # it came through the proxy
        assert header(request, "Proxy-Authorization") is None  # for the proxy's eyes only
    # The proxy saw the dressed source's requests, and no other source's.
    proxied = sites["proxy"].requests
    assert proxied and all(r.path.startswith(sites["dressed"].base_url) for r in proxied)
    assert all(header(r, "Proxy-Authorization") for r in proxied)

    headed = sites["headed"].requests
    assert [r.path for r in headed].count("/headed/feed.xml") == 2  # the probe asked again
    for request in headed:
        assert header(request, "User-Agent") == "newsmon-tests/0.1"
        assert header(request, "Accept-Language") == "ur-PK"
        assert header(request, "Cookie") == "region=pk"
        assert header(request, PROXY_MARK) is None

    for request in sites["plain"].requests:
        assert header(request, "User-Agent") == "newsmon-tests/0.1"
        assert header(request, "Cookie") is None and header(request, "X-Api-Key") is None
        assert header(request, PROXY_MARK) is None

    checked = newsmon(config, "check", env=ENV)
    assert checked.returncode == 0, checked.stderr
    for secret in ENV.values():
        assert secret not in checked.stdout + checked.stderr
    assert (
        "cookies consent=***" in checked.stdout
        and "headers Accept-Language, X-Api-Key" in checked.stdout
    )
