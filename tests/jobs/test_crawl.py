"""`newsmon crawl` end to end: a real Scrapy crawl of the local fixture site into a real SQLite file.

Each crawl runs in a child process, as cron runs it: a Twisted reactor cannot restart in one process.
"""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from pathlib import Path

import pytest

from tests.corpus import ARTICLE_LINKS, GOLDEN, PAGES, name_of
from tests.jobs.helpers import newsmon, write_config
from tests.services import rows

pytestmark = pytest.mark.slow


def stored_titles(db: Path) -> dict[str, str]:
    return {name_of(url): title for url, title in rows(db, "select url, title from items")}


def flagged(db: Path, keyword: str) -> set[str]:
    found = rows(
        db,
        "select distinct i.url from items i join keyword_matches m on m.item_id = i.id where m.keyword = ?",
        keyword,
    )
    return {name_of(url) for (url,) in found}


FEEDS = """
  - name: rss2
    feed: {base}/feeds/rss2.xml
  - name: atom
    feed: {base}/feeds/atom.xml
  - name: rss1
    feed: {base}/feeds/rss1.rdf
  - name: jsonfeed
    feed: {base}/feeds/feed.json
"""


def test_feeds_in_every_format_are_crawled_extracted_stored_and_flagged(tmp_path, site):
    config = write_config(tmp_path, site, FEEDS)
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    assert not re.search(r"\[[^\]]*=0\b", result.stdout)  # skip kinds counted zero times: not shown
    db = tmp_path / "newsmon.db"

    titles = stored_titles(db)
    articles = {name for name in GOLDEN}
    assert set(titles) == articles  # nine articles, each stored once although feeds overlap
    for name, golden in GOLDEN.items():
        [(title, author, published, language, text, date_source)] = rows(
            db,
            "select title, author, published_at, language, text, date_source from items where url like ?",
            f"%{PAGES[name]}",
        )
        expected = golden["item"]
        assert title == expected["title"]
        assert author == expected["author"]
        assert published.startswith(expected["published_at"][:7])
        assert date_source == "page"
        assert language == expected["language"]
        for phrase in golden["text"]["with"]:
            assert phrase in text, (name, phrase)
        for phrase in golden["text"]["without"]:
            assert phrase not in text, (name, phrase)

    assert flagged(db, "Pakistan-US") == {"dar-rubio", "weekly-briefing", "cp1252-header"}
    assert "policy-rate-usaid" not in flagged(db, "us-pakistan")
    assert "opinion-reset" in flagged(db, "us-pakistan")
    for line in ("rss2", "atom", "rss1", "jsonfeed"):
        assert any(out.startswith(line) and " ok " in out for out in result.stdout.splitlines()), (
            result.stdout
        )


def test_a_second_crawl_stores_and_fetches_nothing_again(tmp_path, site):
    config = write_config(tmp_path, site, FEEDS)
    assert newsmon(config, "crawl").returncode == 0
    article_hits = sum(site.hits(page) for page in PAGES.values())
    count = rows(tmp_path / "newsmon.db", "select count(*) from items")[0][0]

    again = newsmon(config, "crawl")
    assert again.returncode == 0, again.stderr
    assert rows(tmp_path / "newsmon.db", "select count(*) from items")[0][0] == count
    assert sum(site.hits(page) for page in PAGES.values()) == article_hits
    assert all("new=0" in line for line in again.stdout.splitlines()), again.stdout


def test_a_sitemap_index_with_a_gzipped_child_is_followed(tmp_path, site):
    config = write_config(
        tmp_path, site, "  - name: sitemaps\n    sitemap: {base}/sitemaps/index.xml\n"
    )
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    assert set(stored_titles(tmp_path / "newsmon.db")) == {
        "dar-rubio",
        "fm-call-malaysia",
        "weekly-briefing",  # a.xml
        "state-ct-dialogue",
        "cricket-series",
        "policy-rate-usaid",  # b.xml.gz
    }
    assert site.hits("/sitemaps/b.xml.gz") == 1


def test_a_google_news_sitemap_is_read(tmp_path, site):
    # max_age: the fixture's news dates are from 2025; a news sitemap defaults to 7 days.
    sources = "  - name: news\n    sitemap: {base}/sitemaps/news.xml\n    max_age: 36500d\n"
    config = write_config(tmp_path, site, sources)
    assert newsmon(config, "crawl").returncode == 0
    assert set(stored_titles(tmp_path / "newsmon.db")) == {
        "opinion-reset",
        "cp1252-header",
        "urdu-1256-meta",
    }


@pytest.mark.parametrize(("pages", "expected_pages"), [(3, 3), (2, 2)])
def test_a_paginated_listing_is_walked_up_to_its_page_limit(tmp_path, site, pages, expected_pages):
    config = write_config(
        tmp_path,
        site,
        f'  - name: listing\n    listing: {{base}}/listing/\n    follow: "{ARTICLE_LINKS}"\n'
        f"    pages: {pages}\n",
    )
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    assert len(stored_titles(tmp_path / "newsmon.db")) == 3 * expected_pages
    assert site.hits("/listing/page3.html") == (1 if pages == 3 else 0)
    for navigation in ("/about", "/contact", "/tag/diplomacy/", "/privacy/"):
        assert site.hits(navigation) == 0, navigation


def test_pages_without_an_article_are_counted_not_stored(tmp_path, site):
    links = "".join(
        f"<item><title>{name}</title><link>{site.base_url}/bad/{name}.html</link></item>"
        for name in ("not-article", "list-only", "empty")
    )
    site.add(
        "/feeds/bad.xml",
        f'<rss version="2.0"><channel><title>t</title>{links}</channel></rss>',
        content_type="application/rss+xml",
    )
    config = write_config(tmp_path, site, "  - name: bad\n    feed: {base}/feeds/bad.xml\n")
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    assert rows(tmp_path / "newsmon.db", "select count(*) from items") == [(0,)]
    assert "pages=3 new=0" in result.stdout and "skipped=3" in result.stdout
    assert all(
        site.hits(f"/bad/{name}.html") == 1 for name in ("not-article", "list-only", "empty")
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dead_source_exits_1_and_the_others_are_still_stored(tmp_path, site):
    sources = (
        FEEDS.split("  - name: atom")[0]
        + f"  - name: dead\n    feed: http://127.0.0.1:{closed_port()}/feed.xml\n"
    )
    config = write_config(tmp_path, site, sources)
    result = newsmon(config, "crawl")
    assert result.returncode == 1
    assert "source dead failed" in result.stderr
    db = tmp_path / "newsmon.db"
    assert len(stored_titles(db)) == 4
    runs = dict(
        rows(db, "select s.name, r.status from crawl_runs r join sources s on s.id = r.source_id")
    )
    assert runs == {"rss2": "ok", "dead": "failed"}
    [(error_text,)] = rows(db, "select error_text from crawl_runs where status = 'failed'")
    assert "connection" in error_text


def test_a_feed_that_is_not_a_feed_fails_its_source(tmp_path, site):
    config = write_config(
        tmp_path, site, "  - name: broken\n    feed: {base}" + PAGES["cricket-series"] + "\n"
    )
    result = newsmon(config, "crawl")
    assert result.returncode == 1
    assert "source broken failed" in result.stderr


def test_a_bad_config_exits_2_names_the_key_and_line_and_crawls_nothing(tmp_path, site):
    config = write_config(
        tmp_path,
        site,
        "  - name: rss2\n    feed: {base}/feeds/rss2.xml\n    sitemap: {base}/sitemaps/index.xml\n",
    )
    result = newsmon(config, "crawl")
    assert result.returncode == 2
    assert "config.yaml:" in result.stderr and "sources[0]" in result.stderr
    assert "exactly one of feed, sitemap or listing" in result.stderr
    assert site.requests == []
    assert not (tmp_path / "newsmon.db").exists()


def test_items_and_show_report_what_was_stored(tmp_path, site):
    config = write_config(tmp_path, site, FEEDS)
    assert newsmon(config, "crawl").returncode == 0

    as_json = json.loads(
        newsmon(config, "items", "--keyword", "Pakistan-US", "--format", "json").stdout
    )
    assert {row["title"] for row in as_json} == {
        GOLDEN[n]["item"]["title"] for n in ("dar-rubio", "weekly-briefing", "cp1252-header")
    }
    required = {
        "id",
        "url",
        "source",
        "title",
        "author",
        "published_at",
        "fetched_at",
        "language",
        "keywords",
        "text",
    }
    assert all(required <= set(row) for row in as_json)
    assert all("Pakistan-US" in row["keywords"] for row in as_json)
    dates = [row["published_at"] for row in as_json]
    assert dates == sorted(dates, reverse=True)  # newest first

    jsonl = newsmon(config, "items", "--source", "atom", "--format", "jsonl").stdout.splitlines()
    assert {json.loads(line)["source"] for line in jsonl} <= {"atom"}

    table = list(
        csv.DictReader(
            io.StringIO(newsmon(config, "items", "--format", "csv", "--limit", "3").stdout)
        )
    )
    assert len(table) == 3 and "keywords" in table[0] and "text" not in table[0]

    seed = next(row for row in as_json if row["url"].endswith(PAGES["dar-rubio"]))
    shown = newsmon(config, "show", str(seed["id"]))
    assert shown.returncode == 0
    assert "»Pakistan-US«" in shown.stdout and "trade dialogue" in shown.stdout
    assert newsmon(config, "show", "99999").returncode == 1


def test_a_redirected_article_is_stored_under_its_canonical_final_url(tmp_path, site):
    site.add(
        "/go/seed",
        b"",
        status=301,
        headers={"Location": PAGES["dar-rubio"] + "?utm_source=feed&b=2&a=1#top"},
    )
    site.add(
        "/feeds/redirecting.xml",
        f'<rss version="2.0"><channel><title>t</title><item><title>Seed</title>'
        f"<link>{site.base_url}/go/seed?fbclid=abc</link></item></channel></rss>",
        content_type="application/rss+xml",
    )
    config = write_config(
        tmp_path, site, "  - name: redirecting\n    feed: {base}/feeds/redirecting.xml\n"
    )
    assert newsmon(config, "crawl").returncode == 0
    [(url,)] = rows(tmp_path / "newsmon.db", "select url from items")
    assert url == f"{site.base_url}{PAGES['dar-rubio']}?a=1&b=2"
