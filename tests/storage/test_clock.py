from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.clock import to_utc

PKT = timezone(timedelta(hours=5))
NOON_UTC = datetime(2025, 7, 25, 12, 0, tzinfo=UTC)

CASES = {
    "ISO text, no offset: UTC": ("2025-07-25T12:00:00", NOON_UTC),
    "ISO text, Z": ("2025-07-25T12:00:00Z", NOON_UTC),
    "ISO text, +05:00 honoured": ("2025-07-25T17:00:00+05:00", NOON_UTC),
    "ISO text, -04:00 honoured": ("2025-07-25T08:00:00-04:00", NOON_UTC),
    "ISO date: midnight UTC": ("2025-07-25", datetime(2025, 7, 25, tzinfo=UTC)),
    "SQLite text with a space": ("2025-07-25 12:00:00.000000", NOON_UTC),
    "naive datetime: UTC": (datetime(2025, 7, 25, 12, 0), NOON_UTC),
    "aware UTC: unchanged": (NOON_UTC, NOON_UTC),
    "aware +05:00: converted": (datetime(2025, 7, 25, 17, 0, tzinfo=PKT), NOON_UTC),
}


@pytest.mark.parametrize("case", list(CASES))
def test_to_utc(case: str) -> None:
    value, expected = CASES[case]
    result = to_utc(value)
    assert result == expected
    assert result.tzinfo is UTC and result.utcoffset() == timedelta(0)


def test_to_utc_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError):
        to_utc("25/07/2025")
    with pytest.raises(TypeError):
        to_utc(20250725)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        to_utc("9999-12-31T23:00:00-05:00")  # past the year 9999 in UTC
