"""Downloader middlewares: keep the crawler off private addresses; send what the source's
config adds to its requests; reuse what the probe fetched."""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.httpobj import urlparse_cached

from crawler.addresses import AddressGuard, LookupFailed
from crawler.components import Component
from crawler.fetchoptions import request_headers

log = logging.getLogger(__name__)

BLOCKED = "blocked/private_address"
BLOCKED_STAT = f"newsmon/{BLOCKED}"
# The hosts this crawl may fetch at private addresses (crawler/settings.py source_settings).
ALLOWED_PRIVATE_HOSTS_SETTING = "NEWSMON_ALLOWED_PRIVATE_HOSTS"


class PrivateAddressMiddleware(Component):
    """Ignores requests whose host resolves to a non-public address (loopback, LAN, cloud
    metadata…) unless the crawl's ``NEWSMON_ALLOWED_PRIVATE_HOSTS`` setting names the host. A host that does
    not resolve fails the request as a DNS error (retried like one), never passes.

    The answer it judges is the one the connection uses (crawler/addresses.py pins it, and
    crawler/resolver.py connects only to it).

    A redirect comes back as a new Request that the engine schedules and downloads like any
    other (ExecutionEngine._handle_downloader_output -> crawl), so it passes through here
    again: a public page redirecting into private space is refused too. So are robots.txt
    requests, which RobotsTxtMiddleware sends through the engine.
    """

    needs_context = False  # a guard for any crawl: the allow-list is a setting

    def configure(self) -> None:
        self.guard = AddressGuard(self.settings.getlist(ALLOWED_PRIVATE_HOSTS_SETTING))
        self._hosts_logged: set[str] = set()

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
        self.count(BLOCKED)
        raise IgnoreRequest(reason)


class FetchOptionsMiddleware(Component):
    """Every request of a source carries its User-Agent, headers and cookies
    (crawler/fetchoptions.py) and goes through its proxy, if it has one (Scrapy's
    HttpProxyMiddleware makes the connection, and sends the proxy URL's credentials to the
    proxy only). Runs before Scrapy's header middlewares, which only fill in what is unset."""

    def configure(self) -> None:
        source = self.context.source
        if not (source.headers or source.cookies or source.proxy or source.user_agent):
            raise NotConfigured

    def process_request(self, request: Request) -> None:
        context = self.context
        for name, value in request_headers(context.config, context.source, request.url).items():
            request.headers[name] = value
        if context.source.proxy:
            request.meta.setdefault("proxy", context.source.proxy)


class PrefetchedResponseMiddleware(Component):
    """Answers a request with the response the pre-crawl probe already received for its URL
    (crawler/probe.py), once, so that a discovery page or robots.txt is never fetched twice.

    It runs after the robots.txt and private-address checks; every middleware's
    process_response still sees the response, as if it had just been downloaded. Left out of
    a crawl the probe fetched nothing for.
    """

    def configure(self) -> None:
        if not self.context.prefetched:
            raise NotConfigured  # nothing to serve (a message would make Scrapy warn)

    def process_request(self, request: Request) -> Response | None:
        if request.method != "GET":
            return None
        fetched = self.context.prefetched.pop(request.url, None)
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
