"""Waiting before a retry: the server's Retry-After when it gives one, else exponential backoff.

Scrapy's RetryMiddleware re-sends a 5xx/429 at once and ignores Retry-After, which turns an
overloaded server's "come back in a minute" into a burst of retries. This middleware sits just
before it (process_response runs in descending priority order) and delays the response, so the
retry RetryMiddleware then schedules goes out after the wait. A Retry-After beyond the cap means
the server wants no traffic for a long time: the request is not retried at all, and the status
is counted like any other HTTP error.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.http import Response

from crawler.components import Component
from storage.clock import to_utc

log = logging.getLogger(__name__)

RETRY_AFTER_MAX_S = 60.0  # longer waits are not worth holding a crawl open for
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None if unusable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (to_utc(when) - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(retries_so_far: int, base: float = BACKOFF_BASE_S) -> float:
    return min(BACKOFF_MAX_S, base * 2**retries_so_far)


class RetryAfterMiddleware(Component):
    """Delays retryable responses by Retry-After (capped) or backoff; refuses absurd waits."""

    needs_context = False

    def configure(self) -> None:
        settings = self.settings
        self.retry_codes = {int(code) for code in settings.getlist("RETRY_HTTP_CODES")}
        self.max_retries = settings.getint("RETRY_TIMES")
        self.cap = settings.getfloat("NEWSMON_RETRY_AFTER_MAX", RETRY_AFTER_MAX_S)
        self.base = settings.getfloat("NEWSMON_RETRY_BACKOFF", BACKOFF_BASE_S)

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in self.retry_codes or request.meta.get("dont_retry"):
            return response
        retries = request.meta.get("retry_times", 0)
        if retries >= request.meta.get("max_retry_times", self.max_retries):
            return response  # RetryMiddleware gives up now: waiting would only slow the crawl
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is not None and wait > self.cap:
            log.info(
                "%s asks to retry after %.0fs (more than %.0fs): not retrying",
                request.url,
                wait,
                self.cap,
            )
            request.meta["dont_retry"] = True
            self.count("retry/retry_after_too_long")
            return response
        if wait is None:
            wait = backoff_seconds(retries, self.base)
        self.count("retry/retry_waits")
        await asyncio.sleep(wait)
        return response
