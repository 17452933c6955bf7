"""The fixture and demo pages are good extraction inputs: trafilatura gets them right.

Pages are fetched over HTTP from the local sites and decoded the way Scrapy decodes them
(`w3lib.encoding.html_to_unicode` with the Content-Type header), then extracted.
"""

from __future__ import annotations

import codecs
import json
import re
import urllib.request
from pathlib import Path

import pytest
import trafilatura
from w3lib.encoding import html_to_unicode

from jobs.localsite import LocalSite

EXPECTED_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "expected"
GOLDEN = {
    path.stem: json.loads(path.read_text("utf-8")) for path in sorted(EXPECTED_DIR.glob("*.json"))
}
# favor_precision keeps a tag page's list of headlines from passing as an article.
EXTRACT_OPTIONS = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
    "favor_precision": True,
}
MIN_ARTICLE_CHARS = 250  # crawler.extract's threshold for "this page holds an article"
# UTF-8 read as windows-1252 ('Ã', 'â€'), Arabic script read as windows-1252 ('Ø', 'Ù', 'Ú').
MOJIBAKE = re.compile("Ã|â€|Ø|Ù|Ú|\ufffd")
HTML_LANG = re.compile(r"<html\b[^>]*\blang=\"([a-z]{2})", re.IGNORECASE)


def fetch(site: LocalSite, path: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(site.url(path), timeout=5) as response:
        return response.headers["Content-Type"], response.read()


def decode(site: LocalSite, path: str) -> tuple[str, str]:
    """(encoding, html) as Scrapy would decode the response."""
    content_type, body = fetch(site, path)
    return html_to_unicode(content_type, body)


def extract(site: LocalSite, path: str) -> dict:
    _, html = decode(site, path)
    document = trafilatura.bare_extraction(html, url=site.url(path), **EXTRACT_OPTIONS)
    return document.as_dict() if document else {"text": ""}


def script_share(text: str, language: str) -> float:
    """Share of letters written in the language's script."""
    letters = [char for char in text if char.isalpha()]
    if language == "ur":
        in_script = [char for char in letters if "\u0600" <= char <= "\u06ff"]
    else:
        in_script = [char for char in letters if char.isascii()]
    return len(in_script) / len(letters)


CASES = [
    pytest.param("fixture_site", g["page"], g, id=f"fixture-{key}") for key, g in GOLDEN.items()
]
CASES += [
    pytest.param("demo_site", g["demo_page"], g, id=f"demo-{key}")
    for key, g in GOLDEN.items()
    if g.get("demo_page")
]


def test_goldens_cover_the_required_cases() -> None:
    assert len(GOLDEN) >= 8
    assert {g["encoding"] for g in GOLDEN.values()} == {"utf-8", "windows-1252", "windows-1256"}
    assert {g["language"] for g in GOLDEN.values()} == {"en", "ur"}


@pytest.mark.parametrize(("site_name", "path", "golden"), CASES)
def test_article_extracts_cleanly(
    request: pytest.FixtureRequest, site_name: str, path: str, golden: dict
) -> None:
    site: LocalSite = request.getfixturevalue(site_name)
    encoding, html = decode(site, path)
    document = extract(site, path)
    text = document["text"]

    assert codecs.lookup(encoding).name == codecs.lookup(golden["encoding"]).name
    assert document["title"] == golden["title"]
    assert document["author"] == golden["author"]
    assert document["date"] == golden["date"]
    assert HTML_LANG.search(html).group(1) == golden["language"]
    assert len(text) >= MIN_ARTICLE_CHARS
    for phrase in golden["must_contain"]:
        assert phrase in text
    for phrase in golden["must_not_contain"]:
        assert phrase not in text
    assert not MOJIBAKE.search(text), MOJIBAKE.search(text)
    assert not MOJIBAKE.search(document["title"])
    assert script_share(text, golden["language"]) > 0.9


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("/articles/cp1252-header.html", "na\u00efve optimism"),
        ("/articles/urdu-1256-meta.html", GOLDEN["urdu-1256-meta"]["must_contain"][0]),
    ],
)
def test_non_utf8_pages_need_their_one_declaration(
    fixture_site: LocalSite, path: str, phrase: str
) -> None:
    """Each page declares its charset in exactly one place; decoding as UTF-8 garbles it."""
    content_type, body = fetch(fixture_site, path)
    _, declared = html_to_unicode(content_type, body)
    assert phrase in declared
    assert phrase not in body.decode("utf-8", errors="replace")
    if path.endswith("cp1252-header.html"):
        assert content_type == "text/html; charset=windows-1252"
        assert b"charset" not in body.lower()
        assert phrase not in html_to_unicode("text/html", body)[1]  # without the header
    else:
        assert content_type == "text/html"
        assert b'<meta charset="windows-1256">' in body


@pytest.mark.parametrize(
    "path", ["/bad/not-article.html", "/bad/list-only.html", "/bad/empty.html"]
)
def test_bad_pages_yield_no_article(fixture_site: LocalSite, path: str) -> None:
    text = extract(fixture_site, path)["text"] or ""
    assert len(text) < MIN_ARTICLE_CHARS, text
