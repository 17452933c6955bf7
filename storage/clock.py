"""Time in storage: now, and any timestamp as an aware UTC datetime.

Every front end and store converts through `to_utc`, so that one rule holds everywhere: a
naive value (or ISO text without an offset) is UTC, and an offset is honoured, then converted.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime | str) -> datetime:
    """`value` (ISO text, naive or aware) as an aware datetime in UTC.

    ValueError for text that is not ISO 8601; OverflowError when the instant falls outside the
    years 1 to 9999 in UTC (0001-01-01T00:00+05:00, say).
    """
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(when, datetime):
        raise TypeError(f"not a datetime or ISO text: {value!r}")
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)
