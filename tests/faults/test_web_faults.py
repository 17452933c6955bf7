"""Hostile requests to `newsmon serve` and hostile arguments to the CLI (issue 14): a rebinding
Host header, a token in the URL, and ids, cursors and searches built to overflow or recurse."""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import make_engine, prepare_for_writing
from tests.jobs.helpers import newsmon, serving
from tests.storage.seed import seed

fault = pytest.mark.fault
TOKEN = "web-token-4f1c9e"
HUGE_ID = "99999999999999999999"
FAR_CURSOR = (
    base64.urlsafe_b64encode(json.dumps(["newest", "9999-12-31T23:59:59-05:00", 1]).encode())
    .decode()
    .rstrip("=")
)
NESTED = "(" * 400 + "rubio" + ")" * 400
WORDY = " ".join(f"word{n}" for n in range(1500))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("web-faults")
    engine = make_engine(f"sqlite:///{directory / 'newsmon.db'}")
    prepare_for_writing(engine)
    seed(engine)
    engine.dispose()
    (directory / "config.yaml").write_text(
        "database: sqlite:///newsmon.db\nsources:\n  - name: dawn\n    feed: https://dawn.example/feed\n"
    )
    return directory / "config.yaml"


@pytest.fixture(scope="module")
def open_view(database: Path) -> Iterator[int]:
    with serving(database) as port:
        yield port


@pytest.fixture(scope="module")
def token_view(database: Path) -> Iterator[int]:
    with serving(database, env={"NEWSMON_WEB_TOKEN": TOKEN}) as port:
        yield port


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


@fault(
    "web view: foreign Host header (DNS rebinding)",
    "Host: rebound.attacker.example gets 400 without data; 127.0.0.1 and localhost work",
)
def test_the_web_view_refuses_a_foreign_host(open_view, observe):
    foreign = get(open_view, "/api/items", {"Host": "rebound.attacker.example"})
    local = [
        get(open_view, "/api/items", {"Host": f"{name}:{open_view}"}).status
        for name in ("127.0.0.1", "localhost")
    ]
    observe(f"foreign host: {foreign.status}; local names: {local}")
    assert foreign.status == 400 and b"Dar" not in foreign.body  # type: ignore[attr-defined]
    assert local == [200, 200]


@fault("web view: --allowed-host", "a name the operator allows is served, any other is not")
def test_a_named_host_is_served_when_allowed(database, observe):
    with serving(database, "--allowed-host", "news.internal") as port:
        named = get(port, "/api/items", {"Host": f"news.internal:{port}"})
        foreign = get(port, "/api/items", {"Host": "other.internal"})
    observe(f"news.internal: {named.status}; other.internal: {foreign.status}")
    assert (named.status, foreign.status) == (200, 400)


@fault(
    "web view: ?token= in the URL",
    "the token never appears in links or the Atom self link; authenticated responses are "
    "Cache-Control: no-store and every response nosniff",
)
def test_a_token_in_the_url_is_not_copied_or_cached(token_view, observe):
    first = get(token_view, f"/?q=rubio&token={TOKEN}")
    cookie = (first.getheader("Set-Cookie") or "").split(";", 1)[0]
    page = first
    if first.status == 303:  # the token moves into a cookie, off the URL
        page = get(token_view, first.getheader("Location") or "/", {"Cookie": cookie})
    html = page.body.decode()  # type: ignore[attr-defined]
    item_path = re.findall(r'href="(/items/\d+)', html)[0]
    item = get(token_view, item_path, {"Cookie": cookie})
    atom = get(token_view, f"/feeds/source/dawn.atom?token={TOKEN}")
    api = get(token_view, "/api/items", {"Authorization": f"Bearer {TOKEN}"})
    responses = {"page": page, "item": item, "atom": atom, "api": api}
    texts = [r.body.decode() for r in responses.values()]  # type: ignore[attr-defined]
    observe(
        f"first answer {first.status}; token in page, item, atom, api: "
        f"{[TOKEN in t for t in texts]}; Cache-Control: "
        f"{[r.getheader('Cache-Control') for r in responses.values()]}"
    )
    assert first.status == 303 and "HttpOnly" in (first.getheader("Set-Cookie") or "")
    assert TOKEN not in (first.getheader("Location") or "")
    assert [r.status for r in responses.values()] == [200, 200, 200, 200]
    assert not any(TOKEN in text for text in texts)
    assert re.search(r'rel="self"[^>]*href="[^"]*dawn\.atom"', texts[2]) or re.search(
        r'href="[^"]*dawn\.atom"[^>]*rel="self"', texts[2]
    )
    assert all(r.getheader("Cache-Control") == "no-store" for r in responses.values())
    assert all(r.getheader("X-Content-Type-Options") == "nosniff" for r in responses.values())
    assert get(token_view, "/api/items").status == 401


HOSTILE_REQUESTS = {
    "huge item id": f"/api/items/{HUGE_ID}",
    "huge item id (page)": f"/items/{HUGE_ID}",
    "cursor dated 9999-12-31 -05:00": f"/api/items?cursor={FAR_CURSOR}",
    "since 9999-12-31 -05:00": "/api/items?since=9999-12-31T23:00:00-05:00",
    "400 nested parentheses": f"/api/items?q={NESTED}",
    "1,500-word search": "/api/items?q=" + WORDY.replace(" ", "+"),
    "1,500-word search (page)": "/?q=" + WORDY.replace(" ", "+"),
}


@pytest.mark.parametrize("case", list(HOSTILE_REQUESTS))
@fault(
    "web view: hostile ids, cursors, searches",
    "huge id, far cursor or date, 400 nested parentheses, 1,500 words: 400 with a reason",
)
def test_hostile_requests_get_400_with_a_reason(open_view, observe, case):
    response = get(open_view, HOSTILE_REQUESTS[case])
    body = response.body.decode()  # type: ignore[attr-defined]
    observe(f"{case}: {response.status} {body[:120]!r}")
    assert response.status == 400
    assert "Internal Server Error" not in body and len(body) > 20


HOSTILE_ARGUMENTS = {
    "huge item id": ["show", HUGE_ID],
    "cursor dated 9999-12-31 -05:00": ["items", "--cursor", FAR_CURSOR],
    "since 9999-12-31 -05:00": ["items", "--since", "9999-12-31T23:00:00-05:00"],
    "400 nested parentheses": ["items", "--search", NESTED],
    "1,500-word search": ["items", "--search", WORDY],
}


@pytest.mark.parametrize("case", list(HOSTILE_ARGUMENTS))
@fault("CLI: hostile ids, cursors, searches", "exit 2 with a one-line reason, no traceback")
def test_hostile_arguments_exit_2_with_a_reason(database, observe, case):
    result = newsmon(database, *HOSTILE_ARGUMENTS[case])
    observe(f"{case}: exit {result.returncode}: {result.stderr.strip()[:120]}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(("newsmon: ", "Usage:")) and len(result.stderr) < 2000
