"""Hostile networks and hostile inputs (issue 14): the fault routes and sources of the crawls in
tests/faults/test_hostile_faults.py.

Every crawl runs in the network sandbox (tests/faults/sandbox.py): `rebind.test` answers a
public address first and 127.0.0.1 after, `eagain.test` fails its first lookup, and no connect
can leave 127.0.0.0/8. Sites: `main` (127.0.0.1) is the sources' own host, `other` (127.0.0.2)
is another host some sources allow, and four HTTPS sites on 127.0.0.1 present a certificate
signed by the test CA for the right name, one for a wrong name, a self-signed one for a wrong
name, and a self-signed one the `tls_verify: false` source knowingly trusts.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.faults.pages import PHRASES, article_html, rss, urlset
from tests.faults.server import FaultSite
from tests.faults.tls import KeyPair, issued_by, make_ca, self_signed
from tests.localsite import RecordedRequest, Response

HTML = "text/html; charset=utf-8"
PUBLIC_ADDRESS = "93.184.215.14"  # what rebind.test answers first; the sandbox refuses it
SANDBOX_DNS = {
    "rebind.test": [PUBLIC_ADDRESS, "127.0.0.1"],
    "eagain.test": ["EAI_AGAIN", "127.0.0.1"],
}
PASSWORD, API_KEY = "pw-Zq7Rt9wK", "key-Xv3Lm2pQ"  # must never be shown, logged or sent on
FORMULA_TITLE = '=HYPERLINK("http://attacker.example/","Click here")'
ESCAPE_AUTHOR = "Staff\u001b]0;pwned\u0007\u001b[2J\u009b31m Reporter"
LOOP_LIMIT = 400  # the self-listing sitemap stops inventing names here (old code: ~400 fetches)


@dataclass
class HostileSites:
    main: FaultSite
    other: FaultSite
    tls_trusted: FaultSite  # signed by the test CA for 127.0.0.1
    tls_wrong_name: FaultSite  # signed by the test CA for wrong.example
    tls_self_signed: FaultSite  # self-signed for wrong.example
    tls_known: FaultSite  # self-signed for 127.0.0.1, trusted only by tls_verify: false
    ca_file: Path

    def all(self) -> list[FaultSite]:
        return [
            self.main,
            self.other,
            self.tls_trusted,
            self.tls_wrong_name,
            self.tls_self_signed,
            self.tls_known,
        ]


def start_sites(directory: Path) -> HostileSites:
    ca = make_ca()
    ca_file, _ = ca.write(directory, "test-ca")

    def https(pair: KeyPair, name: str) -> FaultSite:
        return FaultSite(tls=pair.server_context(directory, name)).start()

    return HostileSites(
        FaultSite().start(),
        FaultSite("127.0.0.2").start(),
        https(issued_by(ca, ["127.0.0.1"]), "trusted"),
        https(issued_by(ca, ["wrong.example"]), "wrong-name"),
        https(self_signed(["wrong.example"]), "self-signed"),
        https(self_signed(["127.0.0.1"]), "known"),
        ca_file,
    )


def story(site: FaultSite, path: str, title: str = "A good article") -> str:
    site.add(path, article_html(title, PHRASES["utf-8"]), content_type=HTML)
    return site.url(path)


def feed_source(site: FaultSite, name: str, links: list[str], extra: str = "") -> str:
    site.add(f"/feeds/{name}.xml", rss(links), content_type="application/rss+xml")
    return f"  - name: {name}\n    feed: {site.url(f'/feeds/{name}.xml')}\n{extra}"


def secret_url(site: FaultSite, path: str) -> str:
    return site.url(path).replace("://", f"://newsmon:{PASSWORD}@", 1) + f"?api_key={API_KEY}"


# --- the main hostile crawl: nothing here needs a config key that did not exist before ----------


def install(sites: HostileSites) -> str:
    main, other = sites.main, sites.other
    port = main.port
    yaml = ""

    # 1. DNS rebinding: checked as public, then connected to 127.0.0.1; a failed first lookup.
    story(main, "/rebind/story.html", "Rebound story")
    story(main, "/rebind/eagain.html", "Lookup failed story")
    yaml += feed_source(
        main,
        "rebinding",
        [
            f"http://rebind.test:{port}/rebind/story.html",
            f"http://eagain.test:{port}/rebind/eagain.html",
        ],
    )

    # 2. TLS: every certificate but a valid one is refused.
    for name, site in [
        ("tls-trusted", sites.tls_trusted),
        ("tls-wrong-name", sites.tls_wrong_name),
        ("tls-self-signed", sites.tls_self_signed),
    ]:
        yaml += feed_source(site, name, [story(site, f"/tls/{name}.html", f"Injected via {name}")])

    # 4. A sitemap index that lists itself under new names, twice per level.
    def loop(request: RecordedRequest) -> Response:
        n = int(parse_qs(urlsplit(request.path).query).get("n", ["1"])[0])
        children = [main.url(f"/sitemaps/loop.xml?n={k}") for k in (2 * n, 2 * n + 1)]
        children = [url for url in children if int(url.rsplit("=", 1)[1]) < LOOP_LIMIT]
        body = sitemap_index(children).encode()
        return Response(body, headers={"Content-Type": "application/xml"})

    main.route("/sitemaps/loop.xml", loop)
    yaml += f"  - name: sitemap-loop\n    sitemap: {main.url('/sitemaps/loop.xml?n=1')}\n"
    yaml += "    max_articles: 5\n"

    # 4. Child sitemaps on another host (one the address guard allows) are not followed.
    main.add(
        "/sitemaps/own-child.xml",
        urlset([story(main, "/sm/own.html")]),
        content_type="application/xml",
    )
    other.add(
        "/sitemaps/foreign-child.xml",
        urlset([story(other, "/sm/foreign.html")]),
        content_type="application/xml",
    )
    index = sitemap_index(
        [main.url("/sitemaps/own-child.xml"), other.url("/sitemaps/foreign-child.xml")]
    )
    main.add("/sitemaps/offsite.xml", index, content_type="application/xml")
    yaml += f"  - name: sitemap-offsite\n    sitemap: {main.url('/sitemaps/offsite.xml')}\n"
    yaml += "    allow_private_hosts: [127.0.0.2]\n"

    # 6. Credentials in the feed URL: basic auth must work, and the secrets must stay hidden.
    def private_feed(request: RecordedRequest) -> Response:
        expected = "Basic " + base64.b64encode(f"newsmon:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return Response(b"who are you?", 401, {"WWW-Authenticate": 'Basic realm="feeds"'})
        body = rss([story(other, "/elsewhere/story.html", "Linked from a private feed")])
        return Response(body.encode(), headers={"Content-Type": "application/rss+xml"})

    main.route("/private/feed.xml", private_feed)
    main.add("/private/gone.xml", "gone", status=500, content_type="text/plain")
    yaml += f"  - name: secret-feed\n    feed: {secret_url(main, '/private/feed.xml')}\n"
    yaml += "    allow_private_hosts: [127.0.0.2]\n"
    yaml += f"  - name: secret-broken\n    feed: {secret_url(main, '/private/gone.xml')}\n"
    yaml += "    politeness: {retries: 0}\n"

    # 9. A JSON Feed nested 100,000 deep.
    deep = (
        '{"version": "https://jsonfeed.org/version/1.1", "items": '
        + "[" * 100_000
        + "]" * 100_000
        + "}"
    )
    main.add("/feeds/deep.json", deep, content_type="application/feed+json")
    yaml += f"  - name: json-deep\n    feed: {main.url('/feeds/deep.json')}\n"

    # 10. Terminal escapes in the author, a spreadsheet formula as the title.
    main.add(
        "/hostile/story.html",
        "<!doctype html><html lang='en'><head><title>" + FORMULA_TITLE.replace('"', "&quot;")
        + "</title></head><body><main><article><h1>" + FORMULA_TITLE.replace('"', "&quot;")
        + "</h1>" + "".join(f"<p>{PHRASES['utf-8']}. Paragraph {n} of a long enough story"
        " about the talks, the trade figures and what both sides said afterwards.</p>"
        for n in range(6)) + "</article></main></body></html>",
        content_type=HTML,
    )  # fmt: skip
    hostile_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Hostile",
        "items": [
            {
                "id": "1",
                "url": main.url("/hostile/story.html"),
                "title": FORMULA_TITLE,
                "authors": [{"name": ESCAPE_AUTHOR}],
            }
        ],
    }
    main.add("/feeds/hostile.json", json.dumps(hostile_feed), content_type="application/feed+json")
    yaml += f"  - name: hostile-text\n    feed: {main.url('/feeds/hostile.json')}\n"
    return yaml


def sitemap_index(children: list[str]) -> str:
    entries = "".join(
        f"<sitemap><loc>{url.replace('&', '&amp;')}</loc></sitemap>" for url in children
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    )


# --- the escape hatches: keys that let a user knowingly widen a rule -----------------------------


WIDE_INDEX = 60  # children of the wide sitemap index; the source may fetch only 10


def install_escape_hatches(sites: HostileSites) -> str:
    main, other, known = sites.main, sites.other, sites.tls_known
    yaml = feed_source(
        known, "tls-verify-off", [story(known, "/tls/known.html", "Self-signed, knowingly")],
        "    tls_verify: false\n",
    )  # fmt: skip
    child = urlset([story(other, "/sm/foreign-allowed.html")])
    other.add("/sitemaps/foreign-allowed.xml", child, content_type="application/xml")
    index = sitemap_index([other.url("/sitemaps/foreign-allowed.xml")])
    main.add("/sitemaps/offsite-allowed.xml", index, content_type="application/xml")
    yaml += f"  - name: sitemap-hosts\n    sitemap: {main.url('/sitemaps/offsite-allowed.xml')}\n"
    yaml += "    allow_private_hosts: [127.0.0.2]\n    sitemap_hosts: [127.0.0.2]\n"
    for n in range(WIDE_INDEX):
        main.add(f"/sitemaps/wide/{n}.xml", urlset([]), content_type="application/xml")
    index = sitemap_index([main.url(f"/sitemaps/wide/{n}.xml") for n in range(WIDE_INDEX)])
    main.add("/sitemaps/wide.xml", index, content_type="application/xml")
    yaml += f"  - name: sitemap-wide\n    sitemap: {main.url('/sitemaps/wide.xml')}\n"
    yaml += "    max_sitemaps: 10\n"
    return yaml


# --- a steady heartbeat: a stalled reactor shows as a gap between its requests -------------------


HEARTBEATS = 60
HEARTBEAT_DELAY = "0.2s"


def install_heartbeat(main: FaultSite) -> str:
    """A source fetching HEARTBEATS tiny text files one after another, HEARTBEAT_DELAY apart."""
    for n in range(HEARTBEATS):
        main.add(f"/hb/{n}.txt", f"beat {n}", content_type="text/plain")
    body = rss([main.url(f"/hb/{n}.txt") for n in range(HEARTBEATS)])
    main.add("/feeds/heartbeat.xml", body, content_type="application/rss+xml")
    return (
        f"  - name: heartbeat\n    feed: {main.url('/feeds/heartbeat.xml')}\n"
        f"    politeness: {{delay: {HEARTBEAT_DELAY}, concurrency_per_host: 1}}\n"
    )


def during_heartbeat(main: FaultSite, path: str, body: bytes | str, content_type: str) -> None:
    """Serve `path` only once the heartbeat is under way (its 5th beat, within 8 s), so whatever
    the response costs the crawl falls between beats."""
    raw = body.encode() if isinstance(body, str) else body

    def handler(_request: RecordedRequest) -> Response:
        deadline = time.monotonic() + 8
        while not main.hits("/hb/5.txt") and time.monotonic() < deadline:
            time.sleep(0.05)
        return Response(raw, headers={"Content-Type": content_type})

    main.route(path, handler)


def heartbeat_gaps(main: FaultSite) -> list[float]:
    """Seconds between the heartbeat's requests, its feed's included."""
    beats = ("/hb/", "/feeds/heartbeat.xml")
    times = sorted(at for at, path in main.arrivals if path.startswith(beats))
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


# --- row 3: catastrophic keyword regexes ----------------------------------------------------------

# The rule: with Python's re, 24 characters took 2 s, doubling every 2 more.
REDOS_TITLE = "a" * 26 + "!"
# One the regex module cannot shortcut either: it must hit the time limit.
ALTERNATION_TITLE = "a" * 40


def install_redos(main: FaultSite) -> tuple[str, str]:
    """(sources, keyword rules) for a crawl whose keyword regexes backtrack without end."""
    sources = ""
    for name, title in [("redos", REDOS_TITLE), ("redos-alternation", ALTERNATION_TITLE)]:
        page = article_html(title, PHRASES["utf-8"])
        during_heartbeat(main, f"/{name}/story.html", page, HTML)
        sources += feed_source(main, name, [main.url(f"/{name}/story.html")])
    keywords = (
        "  - name: runaway\n    regex: ['(\\w+\\s?)+:']\n    fields: [title]\n"
        "    sources: [redos]\n"
        "  - name: runaway-alternation\n    regex: ['(a|aa)+b']\n    fields: [title]\n"
        "    sources: [redos-alternation]\n"
    )
    return sources + install_heartbeat(main), keywords


# --- row 5: a feed of 200,000 links ---------------------------------------------------------------

BIG_FEED_LINKS = 200_000


def install_big_feed(main: FaultSite) -> str:
    links = [main.url(f"/big/{n}.html") for n in range(BIG_FEED_LINKS)]
    for n in range(5):
        story(main, f"/big/{n}.html", f"Big feed story {n}")
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Big</title>'
        + "".join(f"<item><link>{link}</link></item>" for link in links)
        + "</channel></rss>"
    )
    during_heartbeat(main, "/feeds/big.xml", body, "application/rss+xml")
    yaml = f"  - name: big-feed\n    feed: {main.url('/feeds/big.xml')}\n"
    yaml += "    max_articles: 5\n    politeness: {max_page_bytes: 20MB}\n"
    return yaml + install_heartbeat(main)
