"""Unit checks of the small defences the fault suite (tests/faults) proves end to end."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from crawler.charset import decode_html
from crawler.compression import gzip_is_complete
from crawler.retry import backoff_seconds, retry_after_seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (b" 5 ", 5.0),
        ("Fri, 25 Jul 2025 09:01:00 GMT", 60.0),
        ("Fri, 25 Jul 2025 08:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-1", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header, seconds):
    now = datetime(2025, 7, 25, 9, 0, tzinfo=UTC)
    assert retry_after_seconds(header, now) == seconds


def test_backoff_doubles_up_to_a_cap():
    assert [backoff_seconds(n) for n in range(3)] == [1.0, 2.0, 4.0]
    assert backoff_seconds(20) == 30.0


def test_a_gzip_stream_is_complete_only_to_its_end():
    body = gzip.compress(b"<html>" + b"x" * 100_000)
    assert gzip_is_complete(body)
    assert not gzip_is_complete(body[:-10])
    assert not gzip_is_complete(b"not gzip at all")
    bomb = gzip.compress(b" " * 5_000_000)
    assert gzip_is_complete(bomb, max_output=100_000)  # the size limit reports it, not us


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
