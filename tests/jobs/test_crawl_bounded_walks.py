"""The bounds and guards of issue 14 against the walks of issue 13: a walk cut short by a
bound that may let it finish another time is not caught up; one that skipped something on
purpose (a configured limit, a policy) is, for that configuration.

Each crawl is a real `newsmon crawl` in a child process against a local site.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.child import start_newsmon
from tests.faults.server import FaultSite
from tests.faults.tls import self_signed
from tests.jobs.helpers import newsmon, write_config
from tests.jobs.newssite import Layout, NewsSite, simple_article
from tests.localsite import LocalSite


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


def test_a_discovery_page_its_reader_breaks_on_leaves_its_walk_unfinished(tmp_path, site):
    news = NewsSite(site, Layout(feed=3))
    config = write_config(tmp_path, site, news.sources(["feed"]))
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "crawl").returncode == 0
    assert query(db, "select caught_up from discovery_walks") == [(1,)]

    # The feed changed, and reading it (in the worker thread) raises.
    news.serve_text(
        "/wire/feed.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title></channel></rss>',
        "application/rss+xml",
    )
    child = start_newsmon(
        config,
        "crawl",
        env={"NEWSMON_TEST_FAILING_READ": "/wire/feed.xml"},
        hook="tests.jobs.pipeline_faults",
    )
    _, stderr = child.communicate(timeout=120)
    assert "a bug in the feed reader" in stderr
    # Walking, not still caught up from the run before: no later shortcut trusts that walk.
    assert query(db, "select caught_up from discovery_walks") == [(0,)]


def walks(db: Path) -> dict[str, bool]:
    """Path of each crawl walk's URL -> whether it caught up."""
    rows = query(db, "select url, caught_up from discovery_walks where kind = 'crawl'")
    return {url.split("/", 3)[-1]: bool(caught_up) for url, caught_up in rows}


def stored(db: Path) -> int:
    return query(db, "select count(*) from items")[0][0]


def crawl(config: Path) -> str:
    result = newsmon(config, "crawl")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_a_listing_page_past_the_link_cap_is_walked_past_and_not_caught_up(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=3, per_page=5))
    extra = "    max_links_per_page: 3\n"
    config = write_config(tmp_path, site, news.sources(["listing"], extra=extra))
    db = tmp_path / "newsmon.db"
    assert "max_links_per_page" in crawl(config)
    # Every page was walked (the cap is the page's, not the run's), 3 links of each read.
    assert [site.hits(f"/press/page/{n}/") for n in (2, 3)] == [1, 1]
    assert stored(db) == 9
    assert walks(db) == {"press/": False, "press/page/2/": False, "press/page/3/": False}
    crawl(config)  # no shortcut where the walk did not finish: all pages read again
    assert [site.hits(f"/press/page/{n}/") for n in (2, 3)] == [2, 2]


def test_a_feed_past_the_link_cap_is_not_caught_up(tmp_path, site):
    news = NewsSite(site, Layout(feed=5))
    config = write_config(tmp_path, site, news.sources(["feed"], "    max_links_per_page: 3\n"))
    db = tmp_path / "newsmon.db"
    crawl(config)
    assert (stored(db), walks(db)) == (3, {"wire/feed.xml": False})


def test_a_follow_regex_that_times_out_leaves_the_walk_unfinished(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=2, per_page=3))
    trap = "/press/" + "a" * 40 + ".html"
    links = "".join(
        f'<li><a href="{p}">{p}</a></li>' for p in [*news.sections["listing"][:3], trap]
    )
    news.serve(
        "/press/",
        f'<html><body><ul>{links}</ul><a rel="next" href="/press/page/2/">Next</a></body></html>',
        "text/html",
    )
    sources = news.sources(["listing"]).replace('"/press/story-"', '"/press/story-|(a|aa)+b"')
    config = write_config(tmp_path, site, sources)
    db = tmp_path / "newsmon.db"
    output = crawl(config)
    assert "time limit" in output
    [(status, kinds)] = query(db, "select status, error_kinds from crawl_runs")
    assert status == "partial" and "regex_timeout" in kinds
    # Both pages walked and their articles stored; whether the trap is an article is unknown.
    assert stored(db) == 6
    assert walks(db) == {"press/": False, "press/page/2/": True}


def test_child_sitemaps_past_max_sitemaps_leave_the_index_unfinished(tmp_path, site):
    news = NewsSite(site, Layout(sitemap_children=3, per_sitemap=2))
    config = write_config(tmp_path, site, news.sources(["sitemap"], "    max_sitemaps: 2\n"))
    db = tmp_path / "newsmon.db"
    crawl(config)
    assert stored(db) == 4
    state = walks(db)
    assert state.pop("archive/sitemap.xml") is False
    assert list(state.values()) == [True, True]  # the two children read caught up


def test_the_depth_cap_is_a_deliberate_skip_until_the_depth_is_raised(tmp_path, site):
    news = NewsSite(site, Layout(sitemap_children=2, per_sitemap=2))
    config = write_config(tmp_path, site, news.sources(["sitemap"], "    max_sitemap_depth: 0\n"))
    db = tmp_path / "newsmon.db"
    assert "max_sitemap_depth" in crawl(config)
    assert (stored(db), walks(db)) == (0, {"archive/sitemap.xml": True})
    crawl(config)  # unchanged, and caught up for this depth: settled by the probe
    assert site.hits("/archive/sitemap-0.xml") == 0

    # A deeper walk is another walk: nothing of the shallow one is trusted for it.
    write_config(tmp_path, site, news.sources(["sitemap"], "    max_sitemap_depth: 1\n"))
    crawl(config)
    assert stored(db) == 4
    assert set(walks(db).values()) == {True}


def test_an_off_site_child_sitemap_is_a_deliberate_skip_until_its_host_is_allowed(tmp_path, site):
    news = NewsSite(site, Layout(sitemap_children=2, per_sitemap=2))
    foreign = site.base_url.replace("127.0.0.1", "localhost") + "/archive/sitemap-1.xml"
    news.serve_text(
        "/archive/sitemap.xml",
        "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<sitemap><loc>{{{{BASE}}}}/archive/sitemap-0.xml</loc></sitemap>"
        f"<sitemap><loc>{foreign}</loc></sitemap></sitemapindex>",
    )
    config = write_config(tmp_path, site, news.sources(["sitemap"]))
    db = tmp_path / "newsmon.db"
    assert "on other sites" in crawl(config)
    assert stored(db) == 2
    assert set(walks(db).values()) == {True}
    assert site.hits("/archive/sitemap-1.xml") == 0

    allowed = "    sitemap_hosts: [localhost]\n    allow_private_hosts: [localhost]\n"
    write_config(tmp_path, site, news.sources(["sitemap"], allowed))
    crawl(config)
    assert site.hits("/archive/sitemap-1.xml") == 1
    assert stored(db) == 4


def test_a_link_the_guard_refuses_settles_its_walk_and_a_tls_failure_does_not(tmp_path, site):
    news = NewsSite(site, Layout(feed=2))
    refused = site.base_url.replace("127.0.0.1", "localhost") + news.sections["feed"][0]
    entry = "<item><title>{0}</title><link>{0}</link></item>"
    with FaultSite(tls=self_signed(["127.0.0.1"]).server_context(tmp_path, "self")) as tls:
        tls.add("/story.html", b"<html><body><p>never read</p></body></html>")
        news.serve_text(
            "/wire/private.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>p</title>'
            f"{entry.format(refused)}</channel></rss>",
            "application/rss+xml",
        )
        news.serve_text(
            "/wire/tls.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"{entry.format(tls.url('/story.html'))}</channel></rss>",
            "application/rss+xml",
        )
        sources = (
            "  - name: private\n    feed: {base}/wire/private.xml\n"
            "  - name: tls\n    feed: {base}/wire/tls.xml\n"
        )
        config = write_config(tmp_path, site, sources)
        db = tmp_path / "newsmon.db"
        crawl(config)
        assert tls.requests == []  # the handshake failed: no request was made
    runs = dict(
        query(
            db,
            "select s.name, r.error_kinds from crawl_runs r join sources s on s.id = r.source_id",
        )
    )
    assert "tls" in runs["tls"] and runs["private"] == "{}"
    # Refused on purpose (a private address): settled. The TLS failure: not caught up.
    assert walks(db) == {"wire/private.xml": True, "wire/tls.xml": False}


def test_a_backfill_past_max_sitemaps_gets_further_each_run_until_it_finishes(tmp_path, site):
    news = NewsSite(site, Layout(sitemap_children=3, per_sitemap=2))
    config = write_config(tmp_path, site, news.sources(["sitemap"], "    max_sitemaps: 2\n"))
    db = tmp_path / "newsmon.db"
    first = newsmon(config, "backfill", "--source", "archive")
    assert first.returncode == 0, first.stderr
    assert "not finished" in first.stderr and stored(db) == 4
    second = newsmon(config, "backfill", "--source", "archive")
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stderr and "archive finished" in second.stderr
    assert stored(db) == 6
    # The second run read the child left out first, then one of those done already.
    assert sorted(site.hits(f"/archive/sitemap-{n}.xml") for n in range(3)) == [1, 1, 2]


def test_a_keyword_regex_that_times_out_loses_no_item(tmp_path, site):
    news = NewsSite(site, Layout(feed=3))
    trap = news.sections["feed"][1]
    page = simple_article("Story 1", 1, random.Random(1))
    news.serve(trap, page.replace("</article>", f"<p>{'a' * 40}</p></article>"), "text/html")
    runaway = "  - name: runaway\n    regex: ['(a|aa)+b']\n"
    config = write_config(tmp_path, site, news.sources(["feed"]), runaway)
    db = tmp_path / "newsmon.db"
    assert "time limit" in crawl(config)
    [(status, new, kinds)] = query(db, "select status, new_items, error_kinds from crawl_runs")
    assert (status, new) == ("partial", 3) and "regex_timeout" in kinds
    # Stored, so its walk caught up: the next run takes its shortcut and fetches nothing again.
    assert walks(db) == {"wire/feed.xml": True}
    crawl(config)
    assert site.hits(trap) == 1 and stored(db) == 3
