"""Sitemap entry dates (crawler/sitemapdates.py): news dates read safely, old entries dropped."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.sitemapdates import publication_dates, recent_entries

NEWS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>http://x/new</loc><news:news>
    <news:publication_date>2026-01-10T08:00:00+05:00</news:publication_date></news:news></url>
  <url><loc>http://x/old</loc><lastmod>2026-01-10</lastmod><news:news>
    <news:publication_date>2025-01-01</news:publication_date></news:news></url>
  <url><loc>http://x/entity</loc><news:news>
    <news:publication_date>&e;</news:publication_date></news:news></url>
</urlset>"""


def test_news_publication_dates_are_read_without_expanding_entities():
    dates = publication_dates(NEWS)
    assert dates["http://x/new"] == "2026-01-10T08:00:00+05:00"
    assert "root:" not in dates.get("http://x/entity", "")


def test_entries_older_than_max_age_are_dropped_and_the_news_date_wins_over_lastmod():
    entries = [{"loc": "http://x/new"}, {"loc": "http://x/old", "lastmod": "2026-01-10"}]
    now = datetime(2026, 1, 12, tzinfo=UTC)
    found, too_old = recent_entries(entries, NEWS, None, now)  # news: 7 days by default
    assert [loc for loc, _ in found] == ["http://x/new"]
    assert too_old == 1
    assert found[0][1].published == datetime(2026, 1, 10, 3, tzinfo=UTC)
    plain = [{"loc": "http://x/a", "lastmod": "2020-01-01"}, {"loc": "http://x/b"}]
    assert len(recent_entries(plain, b"<urlset/>", None, now)[0]) == 2
    assert recent_entries(plain, b"<urlset/>", 86400.0, now)[1] == 1
