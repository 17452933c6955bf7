"""`newsmon check --live` end to end: real crawls of local fixture sites, nothing stored.

Each check runs in a child process: it is a Scrapy crawl, and a reactor cannot restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.corpus import ARTICLE_LINKS
from tests.jobs.helpers import newsmon, write_config
from tests.jobs.scriptsite import script_site
from tests.localsite import LocalSite
from tests.quality import QUALITY
from tests.services import chromium

pytestmark = pytest.mark.slow

SOURCES = """\
  - name: healthy
    feed: {base}/feeds/rss2.xml
  - name: nofollow
    listing: {base}/listing/
    follow: "/nothing-here/"
  - name: sections
    feed: {base}/feeds/sections.xml
  - name: forbidden
    feed: {base}/feeds/forbidden.xml
  - name: refused
    feed: {base}/private/feed.xml
"""


def section_feed(base: str) -> str:
    links = "".join(
        f"<item><title>{name}</title><link>{base}/bad/{name}.html</link></item>"
        for name in ("not-article", "list-only", "empty")
    )
    return f'<rss version="2.0"><channel><title>t</title>{links}</channel></rss>'


def test_each_kind_of_source_gets_its_verdict_and_an_actionable_problem(tmp_path, site):
    site.add("/feeds/sections.xml", section_feed(site.base_url), content_type="application/rss+xml")
    site.add("/feeds/forbidden.xml", "go away", status=403, content_type="text/plain")
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    config = write_config(tmp_path, site, SOURCES)

    result = newsmon(config, "check", "--live", "--samples", "2", "--format", "json")

    assert result.returncode == 1, result.stderr
    checks = {row["source"]: row for row in json.loads(result.stdout)}
    assert {name: row["verdict"] for name, row in checks.items()} == {
        "healthy": "ok",
        "nofollow": "no_articles",
        "sections": "no_articles",
        "forbidden": "blocked",
        "refused": "blocked",
    }
    healthy = checks["healthy"]
    assert healthy["problems"] == [] and healthy["discovered"] == healthy["matched"] == 4
    assert healthy["discovery"] == {"status": 200, "format": "rss"}
    assert checks["forbidden"]["discovery"] == {"status": 403, "format": "text/plain"}
    assert checks["refused"]["discovery"] == {"status": None, "format": None}  # never fetched
    assert len(healthy["samples"]) == 2
    for sample in healthy["samples"]:
        assert sample["title"] and sample["published_at"] and sample["date_source"] == "page"
        assert sample["text_chars"] >= 400 and sample["language"] == "en"
        assert sample["extracted_by"] == "trafilatura" and sample["language_source"] == "page"
    assert checks["nofollow"]["problems"] == [
        "the follow pattern matched 0 of 6 links; the most common link prefix is /press-releases/"
    ]
    assert checks["sections"]["problems"][0].startswith("2 of 2 sampled pages are not articles")
    assert "HTTP 403" in checks["forbidden"]["problems"][0]
    assert checks["refused"]["problems"][0].startswith("robots.txt forbids fetching")
    assert site.hits("/private/feed.xml") == 0  # robots obeyed
    # The samples cap what is fetched, and nothing is stored: no database was even created.
    assert sum(site.hits(f"/bad/{n}.html") for n in ("not-article", "list-only", "empty")) == 2
    assert not (tmp_path / "newsmon.db").exists()


def test_all_ok_exits_0_with_a_table(tmp_path, site):
    config = write_config(tmp_path, site, SOURCES)

    result = newsmon(config, "check", "--live", "--source", "healthy", "--samples", "1")

    assert result.returncode == 0, result.stderr
    first, sample = result.stdout.splitlines()[:2]
    assert first.split() == [
        "healthy",
        "ok",
        "http=200",
        "format=rss",
        "discovered=4",
        "matched=4",
        "samples=1",
    ]
    assert "trafilatura" in sample and sample.strip().startswith(site.base_url)


def test_an_unknown_source_is_a_config_error(tmp_path, site):
    config = write_config(tmp_path, site, SOURCES)

    result = newsmon(config, "check", "--live", "--source", "nope")

    assert result.returncode == 2
    assert "unknown source 'nope'" in result.stderr


def test_what_discovery_found_is_reported_per_format(tmp_path, site):
    sources = f"""\
  - name: json
    feed: {{base}}/feeds/feed.json
  - name: index
    sitemap: {{base}}/sitemaps/index.xml
  - name: urlset
    sitemap: {{base}}/sitemaps/news.xml
  - name: listing
    listing: {{base}}/listing/
    follow: "{ARTICLE_LINKS}"
"""
    config = write_config(tmp_path, site, sources)

    result = newsmon(config, "check", "--live", "--samples", "1", "--format", "json")

    checks = {row["source"]: row for row in json.loads(result.stdout)}
    assert {name: row["discovery"] for name, row in checks.items()} == {
        "json": {"status": 200, "format": "jsonfeed"},
        "index": {"status": 200, "format": "sitemapindex"},
        "urlset": {"status": 200, "format": "urlset"},
        "listing": {"status": 200, "format": "html"},
    }
    assert checks["index"]["matched"] and checks["listing"]["matched"]


def test_a_source_with_extraction_rules_says_they_made_the_text(tmp_path, site):
    page = (QUALITY / "commerce-table-layout.html").read_text("utf-8")
    site.add("/pr/commerce.html", page, content_type="text/html; charset=utf-8")
    rss = (
        '<rss version="2.0"><channel><title>t</title><item><title>t</title>'
        f"<link>{site.base_url}/pr/commerce.html</link></item></channel></rss>"
    )
    site.add("/feeds/commerce.xml", rss, content_type="application/rss+xml")
    sources = """\
  - name: commerce
    feed: {base}/feeds/commerce.xml
    extract:
      body: "td.content"
      title: "span.heading"
      date: "span.date"
      remove: ["span.heading", "span.date"]
      min_chars: 200
"""
    config = write_config(tmp_path, site, sources)

    result = newsmon(config, "check", "--live", "--format", "json")

    [row] = json.loads(result.stdout)
    [sample] = row["samples"]
    assert (sample["extracted_by"], sample["language"], sample["language_source"]) == (
        "rules",
        "en",
        "text",
    )
    assert sample["title"] == "Regulatory duty on luxury imports revised"
    table = newsmon(config, "check", "--live").stdout
    assert "en (text)  rules  Regulatory duty" in table


@pytest.fixture
def press() -> Iterator[LocalSite]:
    with LocalSite() as private, script_site(private) as site:
        yield site


def check_press(tmp_path, press, render: str = "") -> dict:
    source = "  - name: press\n    listing: {base}/news/\n" + render
    config = write_config(tmp_path, press, source)
    result = newsmon(config, "check", "--live", "--format", "json")
    [row] = json.loads(result.stdout)
    return row


def test_a_listing_its_scripts_write_is_told_to_render_in_a_browser(tmp_path, press):
    row = check_press(tmp_path, press)
    assert row["verdict"] == "no_articles"
    assert row["discovery"] == {"status": 200, "format": "html"}
    assert row["problems"][-1].startswith(f"the listing at {press.base_url}/news/ looks built by")
    assert row["problems"][-1].endswith("try `render: browser`")
    assert press.hits("/static/list.js") == 0  # only looked at, nothing ran


def test_rendered_in_a_browser_the_listing_gets_no_such_suggestion(tmp_path, press):
    chromium()
    row = check_press(tmp_path, press, "    render: browser\n")
    assert row["matched"] == 4 and len(row["samples"]) == 3
    # The links were found; what is left is the fixture's undated pages, and no suggestion.
    assert row["verdict"] == "extraction_incomplete"
    assert row["problems"] == [
        "3 of 3 samples have no published date (none in the page, the feed or the URL)"
    ]
