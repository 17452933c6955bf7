"""Downloader middlewares: keep the crawler off private addresses; reuse what the probe fetched."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.httpobj import urlparse_cached

from crawler.addresses import AddressGuard, LookupFailed

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

BLOCKED_STAT = "newsmon/blocked/private_address"


class PrivateAddressMiddleware:
    """Ignores requests whose host resolves to a non-public address (loopback, LAN, cloud
    metadata…) unless the spider's ``allowed_private_hosts`` names the host. A host that does
    not resolve fails the request as a DNS error (retried like one), never passes.

    The answer it judges is the one the connection uses (crawler/addresses.py pins it, and
    crawler/resolver.py connects only to it).

    A redirect comes back as a new Request that the engine schedules and downloads like any
    other (ExecutionEngine._handle_downloader_output -> crawl), so it passes through here
    again: a public page redirecting into private space is refused too. So are robots.txt
    requests, which RobotsTxtMiddleware sends through the engine.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._guard: AddressGuard | None = None
        self._hosts_logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def guard(self) -> AddressGuard:
        # Built on first use: the spider (and its allow-list) exists only once the crawl opens.
        if self._guard is None:
            allowed = getattr(self.crawler.spider, "allowed_private_hosts", ())
            self._guard = AddressGuard(allowed)
        return self._guard

    async def process_request(self, request: Request) -> None:
        try:
            reason = await self.guard.check(request.url)
        except LookupFailed as error:
            raise CannotResolveHostError(str(error)) from None
        if reason is None:
            return
        host = urlparse_cached(request).hostname or ""
        if host not in self._hosts_logged:
            self._hosts_logged.add(host)
            log.warning(
                "Refusing %s: %s (list the host in the source's allow_private_hosts to fetch it)",
                request.url,
                reason,
            )
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(BLOCKED_STAT)
        raise IgnoreRequest(reason)


class PrefetchedResponseMiddleware:
    """Answers a request with the response the pre-crawl probe already received for its URL
    (crawler/probe.py), once, so that a discovery page or robots.txt is never fetched twice.

    It runs after the robots.txt and private-address checks; every middleware's
    process_response still sees the response, as if it had just been downloaded.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> Response | None:
        context = getattr(self.crawler.spider, "context", None)
        if context is None or request.method != "GET":
            return None
        fetched = context.prefetched.pop(request.url, None)
        if fetched is None:
            return None
        headers = Headers()
        for name, value in fetched.headers:
            headers.appendlist(name, value)
        response_class = responsetypes.from_args(
            headers=headers, url=fetched.url, body=fetched.body
        )
        return response_class(
            url=fetched.url,
            status=fetched.status,
            headers=headers,
            body=fetched.body,
            request=request,
        )
