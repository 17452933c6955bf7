"""The analyst's pages through the ASGI app: dashboard, story page, /sources, runs, /alerts."""

import asyncio
import re
import xml.etree.ElementTree as ET

import httpx
import pytest

from crawler.config.load import load_config
from jobs.web.app import create_app
from storage.db import make_engine
from tests.storage.recent import BURST, HOSTILE_SOURCE_ERROR, URDU_TITLE, recent_store


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analyst")
    config_path, stored = recent_store(folder)
    engine = make_engine(f"sqlite:///{folder / 'newsmon.db'}")
    yield create_app(engine, config=load_config(config_path)), stored
    engine.dispose()


def get(app, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path)

    return asyncio.run(go())


def charts(html: str) -> dict[str, ET.Element]:
    found = {}
    for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        root = ET.fromstring(svg)
        found[root.get("data-keyword")] = root
    return found


def test_the_dashboard_charts_each_rule_and_lists_its_spikes(served):
    app, stored = served
    page = get(app, "/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text
    drawn = charts(page.text)
    assert set(drawn) == {"Pakistan-US", "Kashmir"}
    today = stored.now.date().isoformat()
    bars = {
        g.get("data-day"): g for g in drawn["Pakistan-US"].iter("{http://www.w3.org/2000/svg}g")
    }
    assert len(bars) == 30
    assert int(bars[today].get("data-count")) == stored.count("Pakistan-US", stored.now.date())
    assert "spike" in bars[today].get("class")
    spikes = re.search(r'<section class="spikes".*?</section>', page.text, flags=re.S).group(0)
    assert f"Pakistan-US</a>: {BURST} items in the last 6 h" in spikes
    assert "Kashmir" not in spikes
    assert (
        len(charts(get(app, "/?days=7").text)["Kashmir"].findall("{http://www.w3.org/2000/svg}g"))
        == 7
    )
    assert 'href="/?days=90"' in page.text and "<strong>30</strong>" in page.text


def test_latest_stories_fold_near_copies_and_health_links_to_sources(served):
    app, stored = served
    page = get(app, "/").text
    story = re.search(rf'data-id="{stored.ids["story"]}".*?</li>', page, flags=re.S).group(0)
    assert "and 2 copies: app, tribune" in story
    assert f'data-id="{stored.ids["story-app"]}"' not in page  # folded, not listed again
    urdu = re.search(rf'data-id="{stored.ids["urdu"]}".*?</li>', page, flags=re.S).group(0)
    assert f'dir="auto" lang="ur">{URDU_TITLE}</a>' in urdu
    health = re.search(r'<ul class="strip health">.*?</ul>', page, flags=re.S).group(0)
    states = dict(re.findall(r'data-state="(\w+)"><a href="/sources">(\d+) ', health))
    assert states == {"ok": "1", "degraded": "1", "broken": "1", "silent": "1"}


def test_a_query_or_filter_still_gives_search_results(served):
    app, stored = served
    page = get(app, "/?q=Rubio").text
    assert 'class="results"' in page and "<svg" not in page
    assert f'data-id="{stored.ids["story"]}"' in page
    assert "<svg" not in get(app, "/?flagged=1").text
    assert get(app, "/api/items?keyword=Kashmir").json()["items"]


def test_a_story_page_lists_its_copies_versions_and_each_context_once(served):
    app, stored = served
    page = get(app, f"/items/{stored.ids['story']}").text
    members = re.findall(r'<li data-id="(\d+)">.*?<span class="meta">(\w+) ·', page)
    assert members == [
        (str(stored.ids["story-app"]), "app"),
        (str(stored.ids["story-tribune"]), "tribune"),
    ]
    contexts = re.findall(r'<p class="context" dir="auto">(.*?)</p>', page, flags=re.S)
    assert len(contexts) == 1 and "(Kashmir, Pakistan-US)" in contexts[0]  # two rules, once
    changed = re.findall(
        r'<tr class="replace"><td class="old" dir="auto">(.*?)</td><td class="new" dir="auto">(.*?)</td>',
        page,
    )
    assert changed == [
        (
            "The Pakistan-US talks on Kashmir and trade lasted two hours.",
            "The Pakistan-US talks on Kashmir and trade lasted three hours.",
        )
    ]
    assert "Title: <del>Dar and Rubio hold talks</del>" in page
    copy = get(app, f"/items/{stored.ids['story-tribune']}").text
    assert re.findall(r'<li data-id="(\d+)">', copy) == [
        str(stored.ids["story"]),
        str(stored.ids["story-app"]),
    ]


def test_sources_show_verdicts_intervals_errors_and_link_to_runs(served):
    app, _ = served
    page = get(app, "/sources").text
    rows = dict(re.findall(r'data-source="(\w+)" data-state="(\w+)"', page))
    assert rows == {"dawn": "ok", "app": "degraded", "tribune": "broken", "mofa": "silent"}
    assert HOSTILE_SOURCE_ERROR not in page and "&lt;script&gt;alert(3)&lt;/script&gt; TLS" in page
    assert (
        "every 30m (fixed)" in page
        and "every 5m (new)" in page
        and 'href="/sources/tribune/runs"' in page
    )
    runs = get(app, "/sources/tribune/runs").text
    assert runs.count('data-status="failed"') == 3 and runs.count('data-status="ok"') == 1
    assert '<td class="skipped">3 known=2 not_article=1</td>' in runs  # skips by reason
    assert get(app, "/sources/nowhere/runs").status_code == 404


def test_alerts_show_each_channels_deliveries_and_last_error(served):
    app, _ = served
    page = get(app, "/alerts").text
    desk = re.search(r'<tr data-alert="desk">.*?</tr>', page, flags=re.S).group(0)
    cells = dict(re.findall(r'<td class="([\w-]+)"[^>]*>(.*?)</td>', desk))
    assert (cells["pending"], cells["sent"], cells["failing"], cells["given-up"]) == (
        "1",
        "2",
        "1",
        "0",
    )
    assert cells["error"] == "ConnectError: connection refused"
    wire = re.search(r'<tr data-alert="wire">.*?</tr>', page, flags=re.S).group(0)
    assert '<td class="given-up">1</td>' in wire and "&lt;b&gt;bad gateway&lt;/b&gt;" in wire


def test_an_empty_database_gets_a_dashboard_that_says_so(tmp_path):
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    page = get(create_app(bare), "/")
    assert page.status_code == 400 and "newsmon db upgrade" in page.text
    bare.dispose()
    from tests.services import newsmon_engine

    empty = newsmon_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    page = get(create_app(empty), "/?days=365")
    assert page.status_code == 200 and "No keyword rule has flagged anything yet." in page.text
    assert get(create_app(empty), "/sources").status_code == 200
    empty.dispose()
