"""Scrapy log messages without page bodies: dropped items would otherwise dump whole HTML pages."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class QuietLogFormatter(LogFormatter):
    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        level = getattr(exception, "log_level", None) or "DEBUG"
        return {
            "level": logging.getLevelName(level) if isinstance(level, str) else level,
            "msg": "Dropped: %(exception)s",
            "args": {"exception": exception},
        }
