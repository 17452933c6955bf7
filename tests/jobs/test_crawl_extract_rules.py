"""A crawl applies each source's own extraction rules to that source only, and stores where
the text, the language and the access flag came from; `show` and json output carry them."""

from __future__ import annotations

import json

import pytest

from tests.jobs.helpers import newsmon, write_config
from tests.quality import QUALITY
from tests.services import rows

pytestmark = pytest.mark.slow

PAGES = {
    "/pr/commerce.html": "commerce-table-layout",
    "/pr/ministry.html": "ministry-press-release",
    "/ur/budget.html": "urdu-budget-nolang",
}
SOURCES = """
  - name: commerce
    feed: {base}/feeds/commerce.xml
    extract:
      body: "td.content"
      title: "span.heading"
      date: "span.date"
      remove: ["span.heading", "span.date"]
      min_chars: 200
  - name: plain
    feed: {base}/feeds/plain.xml
"""


def feed(site, paths: list[str]) -> str:
    entries = "".join(
        f"<item><title>t</title><link>{site.base_url}{p}</link></item>" for p in paths
    )
    return f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'


def test_rules_apply_to_their_source_only_and_provenance_is_stored(tmp_path, site):
    for path, name in PAGES.items():
        html = (QUALITY / f"{name}.html").read_text("utf-8")
        site.add(path, html, content_type="text/html; charset=utf-8")
    site.add(
        "/feeds/commerce.xml", feed(site, ["/pr/commerce.html"]), content_type="application/rss+xml"
    )
    plain = feed(site, ["/pr/ministry.html", "/ur/budget.html"])
    site.add("/feeds/plain.xml", plain, content_type="application/rss+xml")
    config = write_config(tmp_path, site, SOURCES)

    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stderr
    stored = {
        url.removeprefix(site.base_url): row
        for url, *row in rows(
            tmp_path / "newsmon.db",
            "select url, title, published_at, extracted_by, language, language_source,"
            " accessible_for_free, text from items",
        )
    }
    title, published, by, language, source, free, text = stored["/pr/commerce.html"]
    assert (title, published[:10], by) == (
        "Regulatory duty on luxury imports revised",
        "2025-06-30",
        "rules",
    )
    assert (language, source, free) == ("en", "text", None)
    assert "Minister's Message" not in text and "customs portal" in text
    assert tuple(stored["/pr/ministry.html"][2:6]) == ("trafilatura", "en", "page", None)
    assert tuple(stored["/ur/budget.html"][2:6]) == ("trafilatura", "ur", "text", 1)

    listed = json.loads(newsmon(config, "items", "--format", "json").stdout)
    urdu = next(row for row in listed if row["url"].endswith("/ur/budget.html"))
    assert (urdu["language_source"], urdu["accessible_for_free"]) == ("text", True)
    assert urdu["extracted_by"] == "trafilatura"
    free = json.loads(newsmon(config, "items", "--access", "free", "--format", "json").stdout)
    assert [row["url"] for row in free] == [urdu["url"]]
    commerce = next(row for row in listed if row["url"].endswith("/pr/commerce.html"))
    shown = newsmon(config, "show", str(commerce["id"])).stdout
    assert "extracted_by:  rules\n" in shown and "language_source: text\n" in shown
    shown = newsmon(config, "show", str(urdu["id"])).stdout
    assert "accessible_for_free: yes\n" in shown
