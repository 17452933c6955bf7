"""Durations and sizes as people write them in config.yaml and on the command line.

No pydantic here: `newsmon items --since 7d` parses durations without loading the config models.
"""

from __future__ import annotations

import math
import re
from typing import Any

DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2}


def parse_duration(value: Any) -> float:
    """'90s', '30m', '1.5h', '3d' or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number with a unit, such as 30s, 10m, 2h or 3d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*", str(value))
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; use a number with a unit: 30s, 10m, 2h, 3d"
            )
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: Any) -> int:
    """'10MB', '512KiB' or a bare number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*", str(value), re.IGNORECASE)
        if not match:
            raise ValueError(f"{value!r} is not a size; use bytes or a unit: 500KB, 10MB")
        number = float(match.group(1)) * SIZE_UNITS[(match.group(2) or "").lower()]
        if not math.isfinite(number):  # int(inf) would raise OverflowError, not ValueError
            raise ValueError(f"{value!r} is too large")
        size = int(number)
    if size <= 0:
        raise ValueError("a size must be positive")
    return size
