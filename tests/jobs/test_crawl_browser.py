"""`render: browser` end to end: a press page whose release list its script writes, crawled by
`newsmon crawl` with Debian's Chromium (skipped, with the reason, where it is not installed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.jobs.helpers import newsmon, write_config
from tests.jobs.scriptsite import STORIES, script_site, story_path
from tests.localsite import LocalSite
from tests.services import chromium, rows

pytestmark = pytest.mark.slow


@pytest.fixture
def private() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


@pytest.fixture
def press(private: LocalSite) -> Iterator[LocalSite]:
    with script_site(private) as site:
        yield site


def crawl(tmp_path, press, render: str = "", **env: str):
    source = "  - name: press\n    listing: {base}/news/\n" + render
    config = write_config(tmp_path, press, source)
    return newsmon(config, "crawl", env=env)


def stored(tmp_path) -> set[str]:
    return {
        url.rsplit("/", 1)[1] for (url,) in rows(tmp_path / "newsmon.db", "select url from items")
    }


def test_without_a_browser_the_listing_shows_no_article_links_and_the_run_says_so(tmp_path, press):
    result = crawl(tmp_path, press)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == set()
    assert "has no article links" in result.stderr
    assert "try `render: browser`" in result.stderr
    assert press.hits("/static/list.js") == 0  # nothing ran the script


@pytest.mark.parametrize(
    "render",
    [
        "    render: browser\n",
        (
            "    render:\n      listing: browser\n      articles: http\n"
            '      wait_for: "ul.press-list a"\n'
        ),
    ],
)
def test_rendered_the_listing_shows_its_articles_and_they_are_stored(
    tmp_path, press, private, render
):
    chromium()
    result = crawl(tmp_path, press, render)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == {story_path(n).rsplit("/", 1)[1] for n in range(1, STORIES + 1)}
    # The page's own requests went through the crawl: its script and its XHR, with the UA.
    for path in ("/news/", "/static/list.js", "/api/releases.json"):
        [request] = [r for r in press.requests if r.path == path]
        assert request.headers["User-Agent"] == "newsmon-tests/0.1"
    assert press.hits("/robots.txt") == 1
    # The image and the XHR at a private address were refused: that server saw nothing.
    assert private.requests == []
    [(pages, status)] = rows(tmp_path / "newsmon.db", "select pages, status from crawl_runs")
    assert status == "ok" and pages == STORIES


def test_a_private_host_the_source_allows_is_fetched_but_images_never_are(tmp_path, press, private):
    chromium()
    private.add("/secret", "{}", content_type="application/json")
    render = "    render: browser\n    allow_private_hosts: [localhost]\n"
    result = crawl(tmp_path, press, render)
    assert result.returncode == 0, result.stderr
    # The XHR was refused above only for its address: allowed, it reaches the server. The
    # image is not fetched at all (images, fonts and media are blocked).
    assert [r.path for r in private.requests if r.path != "/robots.txt"] == ["/secret"]


def test_past_max_pages_the_rest_waits_for_the_next_run(tmp_path, press):
    chromium()
    result = crawl(tmp_path, press, "    render: {{articles: browser, max_pages: 3}}\n")
    assert result.returncode == 0, result.stderr
    assert len(stored(tmp_path)) == 2  # the listing and two articles were rendered
    [(status, kinds)] = rows(tmp_path / "newsmon.db", "select status, error_kinds from crawl_runs")
    assert status == "partial" and '"render_cap": 2' in kinds


def test_without_chromium_the_rendering_source_fails_naming_the_package(tmp_path, press):
    config = write_config(
        tmp_path,
        press,
        "  - name: press\n    listing: {base}/news/\n    render: browser\n"
        "  - name: plain\n    listing: {base}/news/\n",
    )
    result = newsmon(config, "crawl", env={"NEWSMON_CHROMIUM": str(tmp_path / "no-chromium")})
    assert "apt-get install chromium" in result.stderr
    runs = dict(
        rows(
            tmp_path / "newsmon.db",
            "select s.name, r.status || ':' || coalesce(r.error_text, '') from crawl_runs r"
            " join sources s on s.id = r.source_id",
        )
    )
    assert runs["press"].startswith("failed:") and "apt-get install chromium" in runs["press"]
    assert runs["plain"] == "ok:"  # the other source crawled as usual
