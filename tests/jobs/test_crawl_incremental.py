"""Incremental crawling end to end: conditional GETs, re-checks, near-duplicates, old entries.

A local server that counts requests and answers conditional GETs; each crawl is a real
`newsmon crawl` in a child process.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.jobs.helpers import newsmon, write_config
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import rows

pytestmark = pytest.mark.slow

SENTENCES = [
    "The finance minister presented the annual budget to parliament on Tuesday afternoon.",
    "Opposition members walked out of the session, calling the tax measures unfair to salaried workers.",
    "The budget raises the development outlay by twelve percent and trims subsidies on electricity.",
    "Economists said the revenue targets looked ambitious given the slowdown in manufacturing.",
    "The government expects inflation to fall to single digits by the end of the fiscal year.",
    "Provincial governments will receive a larger share of the divisible pool under the new award.",
    "Business groups welcomed the relief for exporters but criticised the new levy on retailers.",
    "The minister said talks with the lender had reached an advanced stage and would conclude soon.",
]
OTHER = [
    "Heavy rain lashed the coastal city overnight, flooding several low-lying neighbourhoods.",
    "Rescue teams evacuated hundreds of families from the riverbanks as water levels rose.",
    "The meteorological office forecast more showers over the weekend in the northern districts.",
    "Schools remained closed and traffic was diverted from the main arteries of the city.",
    "Officials said the drainage system had been cleaned before the monsoon but was overwhelmed.",
    "Power outages were reported in several areas after feeders tripped during the storm.",
]


def article(title: str, paragraphs: list[str], footer: str = "") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}"></head><body><nav><a href="/">Home</a></nav>'
        f"<article><h1>{title}</h1>{body}</article><footer>{footer}</footer></body></html>"
    )


def story(sentences: list[str]) -> list[str]:
    return [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]


def rss(base: str, paths: list[str]) -> str:
    items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in paths)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def urlset(base: str, paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def listing(paths: list[str], next_page: str | None) -> str:
    links = "".join(f'<li><a href="{p}">Story {p.rsplit("/", 1)[-1]}</a></li>' for p in paths)
    nav = f'<a rel="next" href="{next_page}">Next</a>' if next_page else ""
    return f"<html><body><ul>{links}</ul>{nav}</body></html>"


class Pages:
    """Serves mutable pages; answers If-None-Match / If-Modified-Since unless told not to."""

    def __init__(self, site: LocalSite, *, validators: bool = True) -> None:
        self.site = site
        self.validators = validators
        self.bodies: dict[str, tuple[str, str]] = {}

    def put(self, path: str, body: str, content_type: str = "text/html") -> None:
        if path not in self.site.routes:
            self.site.route(path, self.handler(path))
        self.bodies[path] = (body, content_type)

    def handler(self, path: str):
        def respond(request: RecordedRequest) -> Response:
            body, content_type = self.bodies[path]
            raw = body.encode("utf-8")
            headers = {"Content-Type": content_type}
            if self.validators:
                etag = '"' + hashlib.sha256(raw).hexdigest()[:16] + '"'
                headers |= {"ETag": etag, "Last-Modified": "Mon, 01 Sep 2025 10:00:00 GMT"}
                if request.headers.get("If-None-Match") == etag:
                    return Response(b"", 304, headers)
            return Response(raw, 200, headers)

        return respond

    def statuses(self, path: str) -> list[str]:
        return [r.headers.get("If-None-Match", "") for r in self.site.requests if r.path == path]


@pytest.fixture
def site():
    with LocalSite() as site:
        yield site


def run_row(db: Path, source: str) -> tuple:
    return rows(
        db,
        "select r.status, r.pages, r.new_items, r.skipped, r.errors from crawl_runs r"
        " join sources s on s.id = r.source_id where s.name = ? order by r.id desc limit 1",
        source,
    )[0]


def article_paths(count: int, prefix: str = "/news/a") -> list[str]:
    return [f"{prefix}{n}.html" for n in range(count)]


def publish(pages: Pages, paths: list[str]) -> None:
    for n, path in enumerate(paths):
        sentences = SENTENCES[n % 8 :] + SENTENCES[: n % 8]
        pages.put(path, article(f"Budget story {n}", story(sentences) + [f"Reference {path}."]))


def test_an_unchanged_site_costs_one_304_per_discovery_url_and_nothing_else(tmp_path, site):
    pages = Pages(site)
    arts = article_paths(6)
    publish(pages, arts)
    base = site.base_url
    pages.put("/feed.xml", rss(base, arts[:2]), "application/rss+xml")
    pages.put("/sitemap.xml", urlset(base, arts[2:4]), "application/xml")
    pages.put("/list/", listing(arts[4:5], "/list/page/2/"))
    pages.put("/list/page/2/", listing(arts[5:], None))
    config = write_config(
        tmp_path,
        site,
        "  - name: feed\n    feed: {base}/feed.xml\n"
        "  - name: map\n    sitemap: {base}/sitemap.xml\n"
        '  - name: list\n    listing: {base}/list/\n    follow: "/news/"\n    pages: 3\n',
    )
    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr
    db = tmp_path / "newsmon.db"
    assert rows(db, "select count(*) from items") == [(6,)]
    requests_before = len(site.requests)

    second = newsmon(config, "crawl")
    assert second.returncode == 0, second.stderr  # a 304 on the first URL is no failure
    new_requests = [r.path for r in site.requests[requests_before:] if r.path != "/robots.txt"]
    assert sorted(new_requests) == ["/feed.xml", "/list/", "/sitemap.xml"]
    for path in new_requests:
        assert pages.statuses(path)[-1] != ""  # sent If-None-Match, answered 304
    assert rows(db, "select count(*) from items") == [(6,)]
    for source in ("feed", "map", "list"):
        status, fetched, new, skipped, errors = run_row(db, source)
        assert (status, fetched, new, errors) == ("ok", 0, 0, 0)
        assert skipped == 1  # the unchanged discovery response, nothing else parsed


def test_without_validators_an_unchanged_body_is_not_parsed_again(tmp_path, site):
    pages = Pages(site, validators=False)
    arts = article_paths(4)
    publish(pages, arts)
    pages.put("/feed.xml", rss(site.base_url, arts), "application/rss+xml")
    config = write_config(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    assert newsmon(config, "crawl").returncode == 0
    db = tmp_path / "newsmon.db"
    assert run_row(db, "feed")[2] == 4

    assert newsmon(config, "crawl").returncode == 0
    # Parsed again, the feed would count its 4 known articles as skipped.
    assert run_row(db, "feed") == ("ok", 0, 0, 1, 0)
    assert site.hits("/feed.xml") == 2
    assert all(site.hits(path) == 1 for path in arts)

    pages.put("/feed.xml", rss(site.base_url, arts[:3]), "application/rss+xml")
    assert newsmon(config, "crawl").returncode == 0
    assert run_row(db, "feed") == ("ok", 0, 0, 3, 0)  # a changed body is parsed: 3 known


def test_a_changed_article_inside_the_recheck_window_gets_one_new_version(tmp_path, site):
    pages = Pages(site)
    arts = ["/news/changed.html", "/news/old.html", "/news/same.html", "/news/spaces.html"]
    texts = {path: story(SENTENCES) + [f"Reference {path}."] for path in arts}
    for path in arts:
        pages.put(path, article(f"Title {path}", texts[path], footer="Updated 5 minutes ago"))
    pages.put("/feed.xml", rss(site.base_url, arts), "application/rss+xml")
    config = write_config(
        tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n    recheck: 48h\n"
    )
    assert newsmon(config, "crawl").returncode == 0
    db = tmp_path / "newsmon.db"
    ids = {url.split("/")[-1]: i for i, url in rows(db, "select id, url from items")}
    assert len(ids) == 4
    # /news/old.html was first fetched three days ago: outside the 48h window.
    with sqlite3.connect(db) as connection:
        connection.execute(
            "update items set fetched_at = ? where id = ?",
            ((datetime.now(UTC) - timedelta(days=3)).replace(tzinfo=None), ids["old.html"]),
        )
    corrected = [*texts["/news/changed.html"]]
    corrected[1] = "Correction: the minister said the Pakistan-US trade talks had concluded."
    pages.put("/news/changed.html", article("Title /news/changed.html", corrected))
    pages.put("/news/old.html", article("Title /news/old.html", corrected))
    # Only whitespace and the "Updated" boilerplate line differ: no new version.
    spaced = [p.replace(" ", "  ") for p in texts["/news/spaces.html"]]
    pages.put("/news/spaces.html", article("Title /news/spaces.html", spaced, "Updated just now"))
    # The feed changes too (so it is parsed again).
    pages.put("/feed.xml", rss(site.base_url, arts) + "<!-- v2 -->", "application/rss+xml")

    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    versions = rows(db, "select item_id, version from item_versions order by item_id, version")
    assert versions == [(ids["changed.html"], 1), (ids["changed.html"], 2)]
    assert site.hits("/news/old.html") == 1  # outside the window: not even requested
    assert site.hits("/news/same.html") == 2  # re-checked, answered 304
    assert pages.statuses("/news/same.html")[-1] != ""
    [(text,)] = rows(db, "select text from items where id = ?", ids["changed.html"])
    assert "Correction:" in text
    # The keyword only appears in the new version: flagged now.
    matched = rows(db, "select keyword from keyword_matches where item_id = ?", ids["changed.html"])
    assert sorted(matched) == [("Pakistan-US",), ("us-pakistan",)]

    shown = newsmon(config, "show", str(ids["changed.html"]), "--versions")
    assert shown.returncode == 0, shown.stderr
    assert "version 2" in shown.stdout
    assert "+Correction: the minister said the Pakistan-US trade talks had concluded." in (
        shown.stdout
    )
    assert any(line.startswith("-The budget raises") for line in shown.stdout.splitlines())


def test_a_wire_story_on_two_sources_is_linked_but_a_same_title_story_is_not(tmp_path, site):
    pages = Pages(site)
    wire = story(SENTENCES)
    pages.put("/a/wire.html", article("Budget unveiled", wire, footer="Copyright A"))
    # The copy: another outlet's furniture and a changed first paragraph.
    copy = [*wire]
    copy[0] = "ISLAMABAD: " + copy[0]
    pages.put("/b/budget-copy.html", article("Budget unveiled amid protests", copy, "(c) B"))
    pages.put("/b/other.html", article("Budget unveiled", story(OTHER)))
    base = site.base_url
    pages.put("/a/feed.xml", rss(base, ["/a/wire.html"]), "application/rss+xml")
    pages.put(
        "/b/feed.xml", rss(base, ["/b/budget-copy.html", "/b/other.html"]), "application/rss+xml"
    )
    config = write_config(
        tmp_path,
        site,
        "  - name: outlet-a\n    feed: {base}/a/feed.xml\n"
        "  - name: outlet-b\n    feed: {base}/b/feed.xml\n",
    )
    assert newsmon(config, "crawl", "--source", "outlet-a").returncode == 0
    assert newsmon(config, "crawl", "--source", "outlet-b").returncode == 0
    db = tmp_path / "newsmon.db"
    stored = {
        url.split("/", 3)[-1]: (i, dup)
        for i, url, dup in rows(db, "select id, url, duplicate_of from items")
    }
    assert set(stored) == {"a/wire.html", "b/budget-copy.html", "b/other.html"}
    wire_id = stored["a/wire.html"][0]
    assert stored["a/wire.html"][1] is None
    assert stored["b/budget-copy.html"][1] == wire_id
    assert stored["b/other.html"][1] is None

    collapsed = newsmon(config, "items", "--collapse-duplicates", "--format", "jsonl")
    assert collapsed.returncode == 0, collapsed.stderr
    assert len(collapsed.stdout.splitlines()) == 2
    every = newsmon(config, "items", "--format", "jsonl")
    assert len(every.stdout.splitlines()) == 3


def test_news_sitemap_entries_older_than_max_age_are_not_fetched(tmp_path, site):
    pages = Pages(site)
    publish(pages, ["/news/fresh.html", "/news/stale.html", "/news/undated.html"])
    now = datetime.now(UTC)

    def entry(path: str, when: datetime | None) -> str:
        date = (
            f"<news:news><news:publication_date>{when.isoformat()}</news:publication_date></news:news>"
            if when
            else ""
        )
        return f"<url><loc>{site.base_url}{path}</loc>{date}</url>"

    pages.put(
        "/news-sitemap.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        + entry("/news/fresh.html", now - timedelta(hours=3))
        + entry("/news/stale.html", now - timedelta(days=30))
        + entry("/news/undated.html", None)
        + "</urlset>",
        "application/xml",
    )
    pages.put(
        "/plain.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base_url}/news/plain-old.html</loc><lastmod>2020-01-01</lastmod></url>"
        "</urlset>",
        "application/xml",
    )
    publish(pages, ["/news/plain-old.html"])
    config = write_config(
        tmp_path,
        site,
        "  - name: news\n    sitemap: {base}/news-sitemap.xml\n"
        "  - name: plain\n    sitemap: {base}/plain.xml\n",
    )
    assert newsmon(config, "crawl").returncode == 0
    assert site.hits("/news/fresh.html") == 1
    assert site.hits("/news/undated.html") == 1
    assert site.hits("/news/stale.html") == 0
    assert site.hits("/news/plain-old.html") == 1  # a plain sitemap has no default max_age


def test_a_listing_walk_stops_at_the_first_fully_known_page(tmp_path, site):
    pages = Pages(site, validators=False)
    arts = article_paths(6)
    publish(pages, arts)
    pages.put("/list/", listing(arts[0:2], "/list/page/2/"))
    pages.put("/list/page/2/", listing(arts[2:4], "/list/page/3/"))
    pages.put("/list/page/3/", listing(arts[4:6], None))
    config = write_config(
        tmp_path,
        site,
        '  - name: list\n    listing: {base}/list/\n    follow: "/news/"\n    pages: 5\n',
    )
    assert newsmon(config, "crawl").returncode == 0
    assert site.hits("/list/page/3/") == 1
    # A new story on page 1: page 1 has news, page 2 is all known, page 3 is not walked.
    publish(pages, ["/news/new.html"])
    pages.put("/list/", listing(["/news/new.html", *arts[0:1]], "/list/page/2/"))
    assert newsmon(config, "crawl").returncode == 0
    assert site.hits("/news/new.html") == 1
    assert site.hits("/list/page/2/") == 2
    assert site.hits("/list/page/3/") == 1


def imported_packages(stderr: str) -> set[str]:
    """Top-level packages a child run with `-X importtime` imported."""
    lines = [line for line in stderr.splitlines() if line.startswith("import time:")]
    return {line.split("|")[-1].strip().split(".")[0] for line in lines}


def crawled_once(tmp_path: Path, site: LocalSite, pages: Pages, arts: list[str]) -> Path:
    """A feed of `arts` crawled once; returns the config."""
    publish(pages, arts)
    pages.put("/feed.xml", rss(site.base_url, arts), "application/rss+xml")
    config = write_config(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr
    return config


def test_an_unchanged_site_is_settled_before_scrapy_starts(tmp_path, site):
    config = crawled_once(tmp_path, site, Pages(site), article_paths(2))
    before = len(site.requests)

    second = newsmon(config, "crawl", python_args=("-X", "importtime"))
    assert second.returncode == 0, second.stderr
    assert "feed  ok       pages=0 new=0 flagged=0 errors=0 skipped=1" in second.stdout
    assert [r.path for r in site.requests[before:]] == ["/robots.txt", "/feed.xml"]
    assert run_row(tmp_path / "newsmon.db", "feed") == ("ok", 0, 0, 1, 0)
    packages = imported_packages(second.stderr)
    assert "sqlalchemy" in packages  # the run really was recorded
    assert not packages & {"scrapy", "twisted", "trafilatura"}


def test_a_changed_feed_is_fetched_once_and_crawled(tmp_path, site):
    pages = Pages(site)
    arts = article_paths(3)
    config = crawled_once(tmp_path, site, pages, arts[:2])
    publish(pages, arts)
    pages.put("/feed.xml", rss(site.base_url, arts), "application/rss+xml")
    before = len(site.requests)

    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    # The probe's robots.txt and feed responses are handed to the crawl, not fetched again.
    assert sorted(r.path for r in site.requests[before:]) == [
        "/feed.xml",
        "/news/a2.html",
        "/robots.txt",
    ]
    assert run_row(tmp_path / "newsmon.db", "feed") == ("ok", 1, 1, 2, 0)

    # And the validators of that crawl make the next run a 304 again.
    assert newsmon(config, "crawl").returncode == 0
    assert pages.statuses("/feed.xml")[-1] != ""
    assert run_row(tmp_path / "newsmon.db", "feed") == ("ok", 0, 0, 1, 0)


def test_what_the_probe_cannot_settle_is_left_to_the_crawl(tmp_path, site):
    pages = Pages(site)
    arts = article_paths(3)
    config = crawled_once(tmp_path, site, pages, arts[:2])
    db = tmp_path / "newsmon.db"

    # A redirect: the crawl follows it from the probe's response.
    pages.put("/feed-v2.xml", rss(site.base_url, arts), "application/rss+xml")
    publish(pages, arts)
    site.add("/feed.xml", b"", status=301, headers={"Location": "/feed-v2.xml"})
    before = len(site.requests)
    assert newsmon(config, "crawl").returncode == 0
    assert sorted(r.path for r in site.requests[before:]) == [
        "/feed-v2.xml",
        "/feed.xml",
        "/news/a2.html",
        "/robots.txt",
    ]
    assert run_row(db, "feed")[2] == 1

    # A server error: the crawl retries once (retries: 1) and fails the source, as before.
    site.add("/feed.xml", b"down", status=503)
    before = len(site.requests)
    failed = newsmon(config, "crawl")
    assert failed.returncode == 1
    assert "source feed failed" in failed.stderr
    assert [r.path for r in site.requests[before:]].count("/feed.xml") == 2

    # robots.txt now forbids the feed: the crawl does not fetch it and says why.
    site.add("/feed.xml", rss(site.base_url, arts), content_type="application/rss+xml")
    site.add("/robots.txt", b"User-agent: *\nDisallow: /feed.xml\n", content_type="text/plain")
    before = len(site.requests)
    newsmon(config, "crawl")
    assert [r.path for r in site.requests[before:]] == ["/robots.txt"]


def test_two_links_redirecting_to_one_article_still_let_the_walk_catch_up(tmp_path, site):
    pages = Pages(site, validators=False)
    publish(pages, ["/news/moved.html"])
    for old in ("/old/a.html", "/old/b.html"):
        site.add(old, b"", status=301, headers={"Location": "/news/moved.html"})
    pages.put(
        "/feed.xml", rss(site.base_url, ["/old/a.html", "/old/b.html"]), "application/rss+xml"
    )
    config = write_config(tmp_path, site, "  - name: feed\n    feed: {base}/feed.xml\n")
    assert newsmon(config, "crawl").returncode == 0
    db = tmp_path / "newsmon.db"
    assert rows(db, "select count(*) from items") == [(1,)]
    # Scrapy dropped the second redirect as a duplicate: the feed's walk caught up all the same.
    assert rows(db, "select caught_up from discovery_walks") == [(1,)]
    before = len(site.requests)
    assert newsmon(config, "crawl").returncode == 0
    assert [r.path for r in site.requests[before:]] == ["/robots.txt", "/feed.xml"]
