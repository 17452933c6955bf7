"""`newsmon backfill`: deeper than routine runs, politely, in steps that survive a kill."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.faults.child import start_newsmon
from tests.jobs.helpers import REPO, newsmon, write_config
from tests.jobs.newssite import NS, Layout, NewsSite, listing_path
from tests.jobs.test_crawl_interrupted import assert_stored_once, query, stored_paths
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.processes import kill_session
from tests.tables import database_text

pytestmark = pytest.mark.slow


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def listing_requests(site: LocalSite) -> list[str]:
    return [r.path for r in site.requests if r.path.startswith("/press/") and "story" not in r.path]


def test_a_listing_backfill_walks_page_by_page_past_the_routine_depth(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=6, per_page=4))
    config = write_config(tmp_path, site, news.sources(["listing"], pages=2))
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "crawl").returncode == 0
    assert len(stored_paths(db)) == 8  # the routine depth: two pages
    routine = len(site.requests)

    result = newsmon(config, "backfill", "--source", "press", "--pages", "5")
    assert result.returncode == 0, result.stderr
    assert "press  ok" in result.stdout and "new=12" in result.stdout
    steps = re.findall(r"backfill press: step (\d+)/5 done", result.stderr)
    assert steps == ["1", "2", "3", "4", "5"], result.stderr
    assert "backfill of press finished" in result.stderr
    assert len(stored_paths(db)) == 20
    # One page at a time: each page is asked for after the articles of the one before it.
    order = [r.path for r in site.requests[routine:]]
    assert [path for path in order if path in map(listing_path, range(1, 7))] == [
        listing_path(page) for page in range(1, 6)
    ]
    for page in (4, 5):
        previous_articles = news.sections["listing"][(page - 2) * 4 : (page - 1) * 4]
        assert max(map(order.index, previous_articles)) < order.index(listing_path(page))
    # The routine crawl walks its two pages again in full once, then is caught up.
    assert newsmon(config, "crawl").returncode == 0
    status = newsmon(config, "status")
    assert "caught up" in status.stdout, status.stdout


def test_a_killed_backfill_continues_where_it_stopped(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=6, per_page=4))
    news.hanging.add(news.sections["listing"][13])  # on page 4
    config = write_config(tmp_path, site, news.sources(["listing"], pages=1))
    db = tmp_path / "newsmon.db"
    child = start_newsmon(config, "backfill", "--source", "press")
    try:
        assert child.stderr is not None
        for line in child.stderr:
            if "step 3 done" in line:
                break
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    finally:
        news.release()
        kill_session(child.pid)
    news.hanging.clear()
    assert len(stored_paths(db)) >= 12
    requests_before = len(site.requests)

    again = newsmon(config, "backfill", "--source", "press")
    assert again.returncode == 0, again.stderr
    assert "resuming the backfill of press at page 4 (3 steps done)" in again.stderr
    resumed = listing_requests_since(site, requests_before)
    assert resumed == [listing_path(page) for page in (4, 5, 6)]
    assert "backfill of press finished" in again.stderr
    assert_stored_once(db, news, ["listing"])
    runs = newsmon(config, "runs", "--format", "jsonl").stdout
    assert '"status": "interrupted"' in runs  # the killed backfill's run


def listing_requests_since(site: LocalSite, start: int) -> list[str]:
    return [
        r.path
        for r in site.requests[start:]
        if r.path.startswith("/press/") and "story" not in r.path
    ]


def test_a_sitemap_backfill_takes_what_max_age_skips_and_honours_since(tmp_path, site):
    news = NewsSite(site, Layout(sitemap_children=3, per_sitemap=3))
    years = {0: "2025-11-20", 1: "2021-06-01", 2: "2018-03-01"}  # child sitemap -> lastmod
    children = []
    for index, day in years.items():
        chunk = news.sections["sitemap"][index * 3 : (index + 1) * 3]
        urls = "".join(
            f"<url><loc>{site.url(p)}</loc><lastmod>{day}</lastmod></url>" for p in chunk
        )
        site.add(
            f"/old/{index}.xml",
            f"<urlset xmlns='{NS}'>{urls}</urlset>",
            content_type="application/xml",
        )
        children.append(
            f"<sitemap><loc>{site.url(f'/old/{index}.xml')}</loc><lastmod>{day}</lastmod></sitemap>"
        )
    site.add(
        "/old/index.xml",
        f"<sitemapindex xmlns='{NS}'>{''.join(children)}</sitemapindex>",
        content_type="application/xml",
    )
    config = write_config(
        tmp_path, site, "  - name: old\n    sitemap: {base}/old/index.xml\n    max_age: 30d\n"
    )
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "crawl").returncode == 0
    assert stored_paths(db) == []  # everything is older than max_age

    since = newsmon(config, "backfill", "--source", "old", "--since", "2020-01-01")
    assert since.returncode == 0, since.stderr
    assert len(stored_paths(db)) == 6  # the 2018 sitemap is older than --since
    assert site.hits("/old/2.xml") == 0

    everything = newsmon(config, "backfill", "--source", "old")
    assert everything.returncode == 0, everything.stderr
    assert "resuming" not in everything.stderr  # the last one finished: this is a new one
    assert len(stored_paths(db)) == 9


def test_backfill_refuses_a_feed_and_an_unknown_source(tmp_path, site):
    news = NewsSite(site, Layout(feed=2))
    config = write_config(tmp_path, site, news.sources(["feed"]))
    feed = newsmon(config, "backfill", "--source", "wire")
    assert feed.returncode == 2 and "is a feed" in feed.stderr
    unknown = newsmon(config, "backfill", "--source", "nope")
    assert unknown.returncode == 2 and "unknown source 'nope'" in unknown.stderr
    bad = newsmon(config, "backfill", "--source", "wire", "--since", "soon")
    assert bad.returncode == 2 and "use a date" in bad.stderr


def test_backfill_draws_a_progress_bar_on_a_terminal(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=3, per_page=2))
    config = write_config(tmp_path, site, news.sources(["listing"], pages=1))
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "--config", str(config), "backfill", "--source",
         "press", "--pages", "3"],
        cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
        stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        child.wait(60)
        os.close(controller)
    assert child.returncode == 0, output
    text = output.decode()
    assert f"\rpress [{'#' * 30}] 3/3 steps, 6 new" in text, text
    assert "step 1/3 done" not in text  # lines are for logs, not terminals


def test_a_backfill_of_a_listing_with_an_api_key_resumes_with_it_and_stores_it_nowhere(
    tmp_path, site
):
    key = "key-Xv3Lm2pQ"
    news = NewsSite(site, Layout(listing_pages=4, per_page=3))
    failing = {"page 3": True}

    def keyed_listing(request: RecordedRequest) -> Response:
        query = parse_qs(urlsplit(request.path).query)
        if query.get("api_key") != [key]:
            return Response(b"who are you?", 403)
        page = int(query.get("page", ["1"])[0])
        if page == 3 and failing["page 3"]:
            return Response(b"busy", 503)
        chunk = news.sections["listing"][(page - 1) * 3 : page * 3]
        links = "".join(f'<li><a href="{p}">Story {p}</a></li>' for p in chunk)
        more = f'<a rel="next" href="/press/?api_key={key}&amp;page={page + 1}">Next</a>'
        body = f"<html><body><ul>{links}</ul>{more if page < 4 else ''}</body></html>"
        return Response(body.encode(), headers={"Content-Type": "text/html"})

    site.route("/press/", keyed_listing)
    sources = news.sources(["listing"], pages=1).replace("/press/\n", f"/press/?api_key={key}\n")
    config = write_config(tmp_path, site, sources)
    db = tmp_path / "newsmon.db"
    first = newsmon(config, "backfill", "--source", "press")
    assert first.returncode == 0, first.stderr
    assert "not finished" in first.stderr and len(stored_paths(db)) == 6
    [(resume_url, resume_page)] = query(db, "select resume_url, resume_page from backfills")
    assert (resume_url, resume_page) == (site.url("/press/?api_key=***&page=3"), 3)

    failing["page 3"] = False
    again = newsmon(config, "backfill", "--source", "press")
    assert again.returncode == 0, again.stderr
    assert "resuming the backfill of press at page 3" in again.stderr
    assert "backfill of press finished" in again.stderr
    assert_stored_once(db, news, ["listing"])
    # The key went out with every listing request, and stayed out of the output and the store.
    assert {r.path.count(key) for r in site.requests if r.path.startswith("/press/?")} == {1}
    assert key not in first.stderr + first.stdout + again.stderr + again.stdout
    assert [where for where, text in database_text(db).items() if key in text] == []
