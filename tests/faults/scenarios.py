"""The HTTP fault scenarios: one route (or a few) per fault, and one source per scenario.

`install(sites)` puts every route on the fault sites and returns the `sources:` YAML for a
single `newsmon crawl` that covers them all; each test then reads its own source's run record.
Sites: `main` is the sources' own host (127.0.0.1), `allowed` (127.0.0.2) is named in some
sources' allow_private_hosts, `refused` (127.0.0.3) is named nowhere and must see no request,
`robots` and `robots500` each serve one robots.txt fault.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

from tests.faults.pages import PHRASES, article_html, rss, urlset
from tests.faults.server import FaultSite, RawConnection

HTML = "text/html; charset=utf-8"
MB = 1000**2


@dataclass
class Sites:
    main: FaultSite
    allowed: FaultSite
    refused: FaultSite
    robots: FaultSite
    robots500: FaultSite


def good_article(site: FaultSite, path: str, title: str = "A good article") -> str:
    site.add(path, article_html(title, PHRASES["utf-8"]), content_type=HTML)
    return site.url(path)


def feed(site: FaultSite, name: str, links: list[str]) -> str:
    """A feed at /feeds/NAME.xml listing `links`; returns the source YAML for it."""
    site.add(f"/feeds/{name}.xml", rss(links), content_type="application/rss+xml")
    return f"  - name: {name}\n    feed: {site.url(f'/feeds/{name}.xml')}\n"


# --- raw handlers ---------------------------------------------------------------------------


def headers_after(seconds: float):  # type: ignore[no-untyped-def]
    def handler(conn: RawConnection) -> None:
        if conn.sleep(seconds):
            conn.head(200, {"Content-Type": HTML, "Content-Length": "2"})
            conn.send(b"ok")

    return handler


def trickle(conn: RawConnection) -> None:
    """Headers at once, then one byte every 0.1 s, forever (until the client gives up)."""
    conn.head(200, {"Content-Type": HTML, "Content-Length": str(10 * MB)})
    conn.send(b"<html><body>")
    while conn.send(b"x") and conn.sleep(0.1):
        pass


def reset_mid_body(conn: RawConnection) -> None:
    conn.head(200, {"Content-Type": HTML, "Content-Length": "50000"})
    conn.send(article_html("Reset", PHRASES["utf-8"]).encode()[:1000])
    conn.sleep(0.2)
    conn.reset()


def short_body(conn: RawConnection) -> None:
    """Content-Length says more than is sent, then a clean close."""
    body = article_html("Short", PHRASES["utf-8"]).encode()
    conn.head(200, {"Content-Type": HTML, "Content-Length": str(len(body) + 5000)})
    conn.send(body)


def truncated_gzip(conn: RawConnection) -> None:
    body = gzip.compress(article_html("Truncated gzip", PHRASES["utf-8"]).encode())
    body = body[: len(body) // 2]
    conn.head(
        200, {"Content-Type": HTML, "Content-Encoding": "gzip", "Content-Length": str(len(body))}
    )
    conn.send(body)


def stream_huge(site: FaultSite, path: str, *, declare_length: bool):  # type: ignore[no-untyped-def]
    """50 MB of HTML in 64 KB chunks; records how much got out before the client hung up."""
    total, chunk = 50 * MB, b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"

    def handler(conn: RawConnection) -> None:
        headers = {"Content-Type": HTML}
        if declare_length:
            headers["Content-Length"] = str(total)
        else:
            headers["Transfer-Encoding"] = "chunked"
        conn.head(200, headers)
        sent = 0
        while sent < total:
            piece = chunk if declare_length else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            if not conn.send(piece):
                break
            sent += len(chunk)
        else:
            if not declare_length:
                conn.send(b"0\r\n\r\n")
        site.bytes_sent[path] = sent

    return handler


# --- scenarios ------------------------------------------------------------------------------


def install(sites: Sites) -> str:
    main = sites.main
    yaml = ""

    # 5xx: retried (retries: 1) with backoff, then one error each; the good page is stored.
    for status in (500, 502, 503):
        main.add(f"/e/{status}", f"error {status}", status=status, content_type="text/plain")
    main.add(
        "/e/503-retry-after",
        "busy",
        status=503,
        headers={"Retry-After": "2"},
        content_type="text/plain",
    )
    yaml += feed(
        main,
        "http5xx",
        [main.url(f"/e/{s}") for s in (500, 502, 503, "503-retry-after")]
        + [good_article(main, "/ok/5xx.html")],
    )

    # 4xx: no retry; 429 honours a short Retry-After and gives up on a long one.
    for status in (403, 404, 410):
        main.add(f"/e/{status}", f"error {status}", status=status, content_type="text/plain")
    main.add(
        "/e/429", "slow down", status=429, headers={"Retry-After": "2"}, content_type="text/plain"
    )
    main.add(
        "/e/429-long",
        "slow down",
        status=429,
        headers={"Retry-After": "3600"},
        content_type="text/plain",
    )
    yaml += feed(main, "http4xx", [main.url(f"/e/{s}") for s in (403, 404, 410, 429, "429-long")])

    # Slow: headers after 30 s, a body trickling forever. Timeout 2 s, no retries.
    main.raw("/slow/headers", headers_after(30))
    main.raw("/slow/trickle", trickle)
    yaml += feed(main, "slow", [main.url("/slow/headers"), main.url("/slow/trickle")])
    yaml += "    politeness: {timeout: 2s, retries: 0}\n"

    # Broken bodies: reset mid-body, short body, truncated gzip; the good page still stored.
    main.raw("/raw/reset", reset_mid_body)
    main.raw("/raw/short", short_body)
    main.raw("/raw/badgzip", truncated_gzip)
    yaml += feed(
        main,
        "broken",
        [main.url(p) for p in ("/raw/reset", "/raw/short", "/raw/badgzip")]
        + [good_article(main, "/ok/broken.html")],
    )
    yaml += "    politeness: {retries: 0}\n"

    # Redirects: a loop, a chain longer than the limit, to an allowed host, to a refused host.
    main.add("/r/loop-a", "", status=302, headers={"Location": "/r/loop-b"})
    main.add("/r/loop-b", "", status=302, headers={"Location": "/r/loop-a"})
    for n in range(1, 12):
        main.add(f"/r/chain/{n}", "", status=301, headers={"Location": f"/r/chain/{n + 1}"})
    moved = good_article(sites.allowed, "/moved/story.html", "Moved story")
    main.add("/r/offsite", "", status=302, headers={"Location": moved + "?utm_source=rss#top"})
    sites.refused.add("/internal/secret", "secret")
    main.add("/r/ssrf", "", status=302, headers={"Location": sites.refused.url("/internal/secret")})
    yaml += feed(
        main,
        "redirects",
        [main.url(p) for p in ("/r/loop-a", "/r/chain/1", "/r/offsite", "/r/ssrf")],
    )
    yaml += "    allow_private_hosts: [127.0.0.2]\n"

    # Huge pages: aborted while downloading, with and without a declared length.
    main.raw("/huge/declared", stream_huge(main, "/huge/declared", declare_length=True))
    main.raw("/huge/chunked", stream_huge(main, "/huge/chunked", declare_length=False))
    yaml += feed(main, "huge", [main.url("/huge/declared"), main.url("/huge/chunked")])
    yaml += "    politeness: {max_page_bytes: 1MB, retries: 0}\n"

    # Non-HTML content types, skipped before extraction.
    main.add("/bin/report.pdf", b"%PDF-1.4\n" + b"\x00" * 2000, content_type="application/pdf")
    main.add("/bin/photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000, content_type="image/png")
    main.add("/bin/blob", bytes(range(256)) * 8, content_type="application/octet-stream")
    yaml += feed(
        main, "nonhtml", [main.url(p) for p in ("/bin/report.pdf", "/bin/photo.png", "/bin/blob")]
    )

    yaml += install_feeds(main)
    yaml += install_charsets(main)
    yaml += install_not_articles(main)
    yaml += install_variants(main)
    yaml += install_robots(sites)
    yaml += install_ssrf(sites)
    return yaml


def install_feeds(main: FaultSite) -> str:
    yaml = ""
    one = good_article(main, "/ok/feed-malformed.html")
    main.add(
        "/feeds/malformed.xml",
        # An unescaped & and an unclosed element: not well-formed XML.
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>News & views</title>'
        f"<item><title>One <b>bold</title><link>{one}</link></item></channel></rss>",
        content_type="application/rss+xml",
    )
    yaml += f"  - name: feed-malformed\n    feed: {main.url('/feeds/malformed.xml')}\n"
    two = good_article(main, "/ok/feed-truncated.html")
    full = rss([two, main.url("/ok/never-listed.html")])
    main.add(
        "/feeds/truncated.xml",
        full[: full.index("never-listed") - 20],
        content_type="application/rss+xml",
    )
    yaml += f"  - name: feed-truncated\n    feed: {main.url('/feeds/truncated.xml')}\n"
    three = good_article(main, "/ok/feed-atom.html")
    main.add(
        "/feeds/bad.atom",
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom & co</title>'
        f'<entry><title>Entry</title><link href="{three}"/><updated>2025-07-25T09:00:00Z</updated>',
        content_type="application/atom+xml",
    )
    yaml += f"  - name: feed-atom-bad\n    feed: {main.url('/feeds/bad.atom')}\n"
    four = good_article(main, "/ok/feed-as-html.html")
    main.add("/feeds/as-html", rss([four]), content_type="text/html; charset=utf-8")
    yaml += f"  - name: feed-as-html\n    feed: {main.url('/feeds/as-html')}\n"
    main.add("/feeds/empty.xml", rss([]), content_type="application/rss+xml")
    yaml += f"  - name: feed-empty\n    feed: {main.url('/feeds/empty.xml')}\n"

    five = good_article(main, "/ok/sitemap-bom.html")
    main.add(
        "/sitemaps/bom.xml",
        b"\xef\xbb\xbf" + urlset([five]).encode(),
        content_type="application/xml",
    )
    yaml += f"  - name: sitemap-bom\n    sitemap: {main.url('/sitemaps/bom.xml')}\n"
    six = good_article(main, "/ok/sitemap-nons.html")
    main.add("/sitemaps/nons.xml", urlset([six], namespace=False), content_type="application/xml")
    yaml += f"  - name: sitemap-no-namespace\n    sitemap: {main.url('/sitemaps/nons.xml')}\n"
    # 1 KB of sitemap, then 60 MB of spaces: about 60 KB gzipped, 12 times the 5 MB limit.
    bomb = gzip.compress(urlset([main.url("/ok/bomb.html")]).encode() + b" " * (60 * MB), 6)
    main.add("/sitemaps/bomb.xml.gz", bomb, content_type="application/gzip")
    yaml += f"  - name: sitemap-gzip-bomb\n    sitemap: {main.url('/sitemaps/bomb.xml.gz')}\n"
    yaml += "    politeness: {max_page_bytes: 5MB}\n"
    deflater = zlib.compressobj(6, zlib.DEFLATED, 31)
    bomb_encoded = deflater.compress(b" " * (60 * MB)) + deflater.flush()
    main.add(
        "/sitemaps/bomb-encoded.xml",
        bomb_encoded,
        headers={"Content-Encoding": "gzip"},
        content_type="application/xml",
    )
    yaml += (
        f"  - name: sitemap-encoded-bomb\n    sitemap: {main.url('/sitemaps/bomb-encoded.xml')}\n"
    )
    yaml += "    politeness: {max_page_bytes: 5MB}\n"
    return yaml


CHARSET_PAGES = {
    # name: (phrase key, bytes encoding, Content-Type charset, <meta charset>)
    "header-beats-meta": ("cp1252", "cp1252", "windows-1252", "utf-8"),
    "header-lies": ("windows-1256", "windows-1256", "utf-8", "windows-1256"),
    "undeclared-cp1252": ("cp1252", "cp1252", None, None),
    "undeclared-1256": ("windows-1256", "windows-1256", None, None),
    "undeclared-gbk": ("gbk", "gbk", None, None),
    "bom-utf8": ("utf-8", "utf-8-sig", "iso-8859-1", None),
}


def install_charsets(main: FaultSite) -> str:
    links = []
    for name, (phrase_key, encoding, header, meta) in CHARSET_PAGES.items():
        lang = {"windows-1256": "ur", "gbk": "zh"}.get(phrase_key, "en")
        body = article_html(name, PHRASES[phrase_key], lang=lang, meta_charset=meta).encode(
            encoding
        )
        content_type = f"text/html; charset={header}" if header else "text/html"
        main.add(f"/charset/{name}.html", body, content_type=content_type)
        links.append(main.url(f"/charset/{name}.html"))
    # Valid UTF-8 with stray invalid bytes between sentences.
    html = article_html("invalid-bytes", PHRASES["utf-8"], meta_charset="utf-8").encode()
    main.add(
        "/charset/invalid-bytes.html",
        html.replace(b"Paragraph 3", b"\xff\xfe Paragraph 3"),
        content_type=HTML,
    )
    links.append(main.url("/charset/invalid-bytes.html"))
    return feed(main, "charsets", links)


def install_not_articles(main: FaultSite) -> str:
    main.add(
        "/na/challenge.html",
        "<html><head><title>Just a moment...</title></head><body><h1>Checking your browser"
        " before accessing example.org</h1><p>This process is automatic. Your browser will"
        " redirect shortly.</p><noscript>Enable JavaScript and cookies to continue</noscript>"
        "</body></html>",
        content_type=HTML,
    )
    main.add(
        "/na/login.html",
        "<html><head><title>Sign in</title></head><body><form><label>Email <input name=e>"
        "</label><label>Password <input type=password name=p></label><button>Sign in</button>"
        "</form><p>Subscribers only. Sign in to read this article.</p></body></html>",
        content_type=HTML,
    )
    listing = "".join(
        f'<li><a href="/news/story-{n}.html">Headline number {n} about the day\'s events</a></li>'
        for n in range(40)
    )
    main.add(
        "/na/list.html",
        f"<html><head><title>Latest</title></head><body><h1>Latest news</h1><ul>{listing}</ul></body></html>",
        content_type=HTML,
    )
    return feed(
        main, "not-articles", [main.url(f"/na/{n}.html") for n in ("challenge", "login", "list")]
    )


def install_variants(main: FaultSite) -> str:
    url = good_article(main, "/v/story.html", "One story, many URLs")
    host = main.url("").rstrip("/").split("//", 1)[1]
    variants = [
        url + "?utm_source=twitter&utm_medium=social",
        url + "?fbclid=abc123",
        url + "#comments",
        f"https://{host}/v/story.html",
        url + "?gclid=x&utm_campaign=y",
    ]
    return feed(main, "variants", variants)


def install_robots(sites: Sites) -> str:
    robots, robots500 = sites.robots, sites.robots500
    robots.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    allowed = good_article(robots, "/public/story.html")
    good_article(robots, "/private/story.html")
    yaml = feed(robots, "robots-disallow", [allowed, robots.url("/private/story.html")])
    robots500.add("/robots.txt", "oops", status=500, content_type="text/plain")
    good_article(robots500, "/story.html")
    yaml += feed(robots500, "robots-500", [robots500.url("/story.html")])
    return yaml


SSRF_FORMS = [
    "http://{refused}/a",  # the refused site itself
    "http://[::ffff:127.0.0.3]:{port}/b",  # IPv4-mapped IPv6
    "http://2130706435:{port}/c",  # 127.0.0.3 as one decimal number
    "http://0x7f.0.0.3:{port}/d",  # hex and short form
    "http://localhost:{main_port}/ssrf/e",  # a DNS name resolving to loopback
    "http://[::1]:{main_port}/ssrf/f",  # IPv6 loopback
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.0.0.1/admin",  # private range
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
]


def ssrf_links(sites: Sites) -> list[str]:
    return [
        form.format(
            refused=sites.refused.url("").rstrip("/").split("//", 1)[1],
            port=sites.refused.port,
            main_port=sites.main.port,
        )
        for form in SSRF_FORMS
    ]


def install_ssrf(sites: Sites) -> str:
    main, links = sites.main, ssrf_links(sites)
    yaml = feed(main, "ssrf-feed", links)
    main.add("/sitemaps/ssrf.xml", urlset(links), content_type="application/xml")
    yaml += f"  - name: ssrf-sitemap\n    sitemap: {main.url('/sitemaps/ssrf.xml')}\n"
    anchors = "".join(f'<a href="{link}">Story</a>' for link in links)
    main.add("/ssrf-listing/", f"<html><body>{anchors}</body></html>", content_type=HTML)
    yaml += f'  - name: ssrf-listing\n    listing: {main.url("/ssrf-listing/")}\n    follow: "."\n'
    # The exception: a host named in allow_private_hosts is fetched.
    yaml += feed(main, "ssrf-allowed", [good_article(sites.allowed, "/allowed/story.html")])
    yaml += "    allow_private_hosts: [127.0.0.2]\n"
    return yaml
