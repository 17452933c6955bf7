"""Dates on the command line: ISO dates and datetimes, or durations meaning that long ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from crawler.config.units import parse_duration
from storage.clock import to_utc


def parse_when(value: str | None) -> datetime | None:
    """An ISO date or datetime, or a duration meaning that long ago (7d, 12h)."""
    if value is None:
        return None
    try:
        ago = parse_duration(value)
    except ValueError:
        pass
    else:
        try:
            return datetime.now(UTC) - timedelta(seconds=ago)
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the year 1") from None
    try:
        return to_utc(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use a date (2025-07-25), a datetime or a duration (7d)"
        ) from None
    except OverflowError:
        raise click.BadParameter(f"{value!r} is outside the years 1 to 9999 in UTC") from None
