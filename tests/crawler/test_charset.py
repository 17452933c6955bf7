"""Decoding pages to text (crawler/charset.py): the charset that fits the bytes wins."""

from __future__ import annotations

import urllib.request

import pytest

from crawler.charset import decode_html
from tests.corpus import GOLDEN, PAGES
from tests.localsite import LocalSite


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("cp1252-header", "na\u00efve optimism"),
        ("urdu-1256-meta", GOLDEN["urdu-1256-meta"]["text"]["with"][0]),
    ],
    ids=["cp1252-header", "urdu-1256-meta"],
)
def test_a_legacy_page_is_decoded_from_its_one_declaration(
    fixture_site: LocalSite, name: str, phrase: str
) -> None:
    """Each fixture page declares its charset in exactly one place; as UTF-8 it is garbled."""
    with urllib.request.urlopen(fixture_site.url(PAGES[name]), timeout=5) as response:
        content_type, body = response.headers["Content-Type"], response.read()
    assert phrase in decode_html(body, content_type)[0]
    assert phrase not in body.decode("utf-8", errors="replace")
    if name == "cp1252-header":
        assert content_type == "text/html; charset=windows-1252"
        assert b"charset" not in body.lower()
        # Without the header nothing declares it: detection still finds windows-1252.
        assert decode_html(body, "text/html") == decode_html(body, content_type)
    else:
        assert content_type == "text/html"
        assert b'<meta charset="windows-1256">' in body


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        ("Café".encode("cp1252"), "text/html; charset=windows-1252", "cp1252"),
        ('<meta charset="utf-8">Café'.encode("cp1252"), "text/html; charset=cp1252", "cp1252"),
        ("\ufeffCafé".encode(), "text/html; charset=iso-8859-1", "utf-8"),
        ("پاکستان".encode("cp1256") * 20, "text/html; charset=utf-8", None),
    ],
)
def test_decode_html_picks_the_charset_that_fits(body, content_type, encoding):
    text, used = decode_html(body, content_type)
    assert "\ufffd" not in text
    if encoding:
        assert used == encoding


def test_a_few_bad_bytes_keep_the_declared_utf8():
    body = ("ڈار اور روبیو " * 20).encode() + b"\xff"
    text, used = decode_html(body, "text/html; charset=utf-8")
    assert used == "utf-8" and text.count("\ufffd") == 1 and "ڈار" in text
