"""`newsmon check --live` end to end: real crawls of local fixture sites, nothing stored.

Each check runs in a child process: it is a Scrapy crawl, and a reactor cannot restart.
"""

from __future__ import annotations

import json

import pytest

from tests.jobs.helpers import newsmon, write_config

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
    assert len(healthy["samples"]) == 2
    for sample in healthy["samples"]:
        assert sample["title"] and sample["published_at"] and sample["date_source"] == "page"
        assert sample["text_chars"] >= 400 and sample["language"] == "en"
        assert sample["extracted_by"] == "trafilatura"
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
    assert first.split() == ["healthy", "ok", "discovered=4", "matched=4", "samples=1"]
    assert "trafilatura" in sample and sample.strip().startswith(site.base_url)


def test_an_unknown_source_is_a_config_error(tmp_path, site):
    config = write_config(tmp_path, site, SOURCES)

    result = newsmon(config, "check", "--live", "--source", "nope")

    assert result.returncode == 2
    assert "unknown source 'nope'" in result.stderr
