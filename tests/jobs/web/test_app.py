"""The web app through its ASGI interface (httpx): API, search page, Atom feeds, token, XSS."""

import asyncio

import feedparser
import httpx
import pytest

from jobs.web.app import create_app
from tests.services import newsmon_engine
from tests.storage.seed import DAR_TITLE, XSS_TITLE, seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    engine = newsmon_engine(f"sqlite:///{tmp_path_factory.mktemp('web') / 'newsmon.db'}")
    ids = seed(engine)
    yield engine, ids
    engine.dispose()


def fetch(app, path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path, **kwargs)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def app(seeded):
    return create_app(seeded[0])


def test_api_items_filters_and_pages_by_cursor(app, seeded):
    _, ids = seeded
    page = fetch(app, "/api/items", params={"q": "relat*", "limit": 2}).json()
    assert page["items"][0]["id"] == ids["dar"]
    assert "»" in page["items"][0]["snippet"]
    seen = [item["id"] for item in page["items"]]
    while page["next_cursor"]:
        page = fetch(
            app, "/api/items", params={"q": "relat*", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
        seen += [item["id"] for item in page["items"]]
    assert sorted(seen) == sorted(ids[n] for n in ["dar", "dar_copy", "xss", "cricket", "urdu"])
    flagged = fetch(app, "/api/items", params={"flagged": "true", "language": "en"}).json()
    assert {item["id"] for item in flagged["items"]} == {ids["dar"], ids["dar_copy"]}
    dupes = fetch(app, "/api/items", params={"has_duplicates": "true"}).json()
    assert {item["duplicate_of"] for item in dupes["items"]} == {None, ids["dar"]}


def test_api_errors_are_400_with_a_reason(app):
    bad = fetch(app, "/api/items", params={"q": "(rubio"})
    assert bad.status_code == 400 and "unbalanced parenthesis" in bad.json()["detail"]
    assert fetch(app, "/api/items", params={"cursor": "nope"}).status_code == 400
    assert fetch(app, "/api/items", params={"since": "last tuesday"}).status_code == 400
    assert fetch(app, "/api/items/999999").status_code == 404


def test_api_item_sources_and_openapi(app, seeded):
    _, ids = seeded
    item = fetch(app, f"/api/items/{ids['dar']}").json()
    assert item["title"] == DAR_TITLE and "Pakistan-US trade" in item["text"]
    assert item["matches"][0]["context"].count("»Pakistan-US«") == 1
    sources = {row["name"]: row["items"] for row in fetch(app, "/api/sources").json()}
    assert sources["idle"] == 0 and sources["dawn"] > 0
    schema = fetch(app, "/openapi.json").json()
    assert {"/api/items", "/api/items/{item_id}", "/api/sources"} <= set(schema["paths"])
    parameters = {p["name"] for p in schema["paths"]["/api/items"]["get"]["parameters"]}
    assert {"q", "keyword", "source", "since", "language", "flagged", "cursor"} <= parameters


def test_search_page_highlights_matches_and_is_phone_ready(app, seeded):
    _, ids = seeded
    page = fetch(app, "/", params={"q": '"stable relationship"'})
    assert page.status_code == 200
    assert '<meta name="viewport"' in page.text
    assert "<mark>stable relationship</mark>" in page.text  # the phrase, marked whole
    assert f'class="result flagged" data-id="{ids["dar"]}"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # no script allowed
    by_keyword = fetch(app, "/", params={"keyword": "Pakistan-US"})
    assert "<mark>Pakistan-US</mark>" in by_keyword.text
    broken = fetch(app, "/", params={"q": '"stable'})
    assert broken.status_code == 400 and "unbalanced quote" in broken.text


def test_scraped_markup_renders_inert_in_html(app, seeded):
    _, ids = seeded
    for page in [
        fetch(app, "/", params={"q": "hostile"}),
        fetch(app, f"/items/{ids['xss']}"),
        fetch(app, "/", params={"source": "dawn"}),  # a bare / is the dashboard
    ]:
        assert page.status_code == 200
        assert "<script" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(" in page.text


def test_atom_feeds_parse_and_escape(app, seeded):
    _, ids = seeded
    response = fetch(app, "/feeds/keyword/Pakistan-US.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert {entry.link for entry in feed.entries} == {
        "https://news.example/dar",
        "https://news.example/dar-copy",
    }
    assert feed.entries[0].published_parsed is not None
    source = fetch(app, "/feeds/source/dawn.atom")
    parsed = feedparser.parse(source.content)
    assert not parsed.bozo
    hostile = [entry for entry in parsed.entries if entry.id == f"urn:newsmon:item:{ids['xss']}"]
    assert hostile[0].title == XSS_TITLE  # the text survives, as text
    assert b"<script" not in source.content and b"<img" not in source.content
    assert fetch(app, "/feeds/source/nowhere.atom").status_code == 404


def test_a_token_guards_every_route(seeded):
    app = create_app(seeded[0], token="s3cret")
    for path in ["/api/items", "/", "/feeds/source/dawn.atom", "/openapi.json"]:
        assert fetch(app, path).status_code == 401
    assert fetch(app, "/api/items", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert fetch(app, "/api/items", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = fetch(app, "/", params={"token": "s3cret", "q": "rubio"})
    assert page.status_code == 303 and page.headers["location"] == "/?q=rubio"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("newsmon_token=s3cret;") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    again = fetch(app, "/?q=rubio", headers={"Cookie": "newsmon_token=s3cret"})
    assert again.status_code == 200 and "s3cret" not in again.text
    assert fetch(app, "/", headers={"Cookie": "newsmon_token=wrong"}).status_code == 401
    # Programs keep ?token=: the API and feeds answer it directly, and never echo it.
    feed = fetch(app, "/feeds/source/dawn.atom", params={"token": "s3cret"})
    assert feed.status_code == 200 and b"s3cret" not in feed.content
    assert feed.headers["cache-control"] == "no-store"


def test_only_requests_for_an_allowed_host_are_served(seeded):
    default = create_app(seeded[0])
    assert (
        fetch(default, "/api/items", headers={"Host": "rebound.attacker.example"}).status_code
        == 400
    )
    assert fetch(default, "/api/items", headers={"Host": "[::1]:8080"}).status_code == 200
    named = create_app(seeded[0], allowed_hosts=["news.internal"])
    assert fetch(named, "/api/items", headers={"Host": "news.internal:8080"}).status_code == 200
    assert fetch(named, "/api/items").status_code == 400  # localhost was not listed


def test_no_response_may_be_sniffed_and_an_open_view_may_be_cached(app):
    for path in ["/", "/api/items", "/feeds/source/dawn.atom"]:
        response = fetch(app, path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "cache-control" not in response.headers
