"""When to retry (crawler/retry.py): Retry-After in seconds or as a date, capped backoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
