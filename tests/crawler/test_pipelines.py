"""The record built for the store: every text field storable, wherever it came from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.extract import Extracted
from crawler.items import FetchedPage, Hints
from crawler.pipelines import article_record, content_hash
from storage.text import storable

TEXT = "Pakistan and the United States\u0000 agreed.\x07\n\tNew\rline \ud83d kept apart."


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\ud800", "\ufffd"),
        ("a\udfffb", "a\ufffdb"),
        ("NUL\u0000byte", "NULbyte"),
        ("bell\x07 escape\x1b[31m del\x7f c1\x85", "bell escape[31m del c1"),
        ("tab\tnewline\ncr\r", "tab\tnewline\ncr\r"),
        ("Urdu پاکستان and emoji \U0001f600", "Urdu پاکستان and emoji \U0001f600"),
    ],
)
def test_storable_replaces_surrogates_and_drops_control_characters(raw, clean):
    assert storable(raw) == clean
    storable(raw).encode("utf-8")  # encodable, as both databases need


def test_every_text_field_of_the_record_is_storable_hints_included():
    page = FetchedPage(
        source="wire",
        url="https://example.com/a",
        html="<html></html>",
        hints=Hints(title="Feed \ud800title\u0000", author="\u0000", published=None),
    )
    extracted = Extracted(
        text=TEXT,
        title=None,
        author=None,
        published=datetime(2025, 7, 25, tzinfo=UTC),
        language="en\x00",
        canonical_url=None,
        site_name="Dawn\x1f",
    )
    record = article_record(page, extracted)
    assert record.text == "Pakistan and the United States agreed.\n\tNew\rline \ufffd kept apart."
    assert record.content_hash == content_hash(record.text)
    assert record.title == "Feed \ufffdtitle"
    assert record.author is None  # nothing left of it
    assert (record.language, record.site_name) == ("en", "Dawn")
