"""Redirect checks Scrapy leaves out: loops are caught and counted, off-host hops are logged.

Scrapy's RedirectMiddleware stops a chain after REDIRECT_MAX_TIMES, but a loop back to a URL
already requested is dropped silently by the scheduler's duplicate filter: the article would
vanish without a count. This middleware sees each 3xx just before RedirectMiddleware does.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.components import Component
from crawler.urls import InvalidURL, canonicalize, host_of, url_key

log = logging.getLogger(__name__)

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class RedirectLoop(IgnoreRequest):
    kind = "redirect_loop"


class RedirectGuardMiddleware(Component):
    needs_context = False

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get(b"Location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        target = urljoin(request.url, location.decode("latin-1"))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if _key(target) in {_key(url) for url in chain}:
            raise RedirectLoop(f"redirect loop: {' -> '.join([*chain, target])}")
        if host_of(target) != host_of(chain[0]):
            log.info("%s redirects to another host: %s", chain[0], target)
            self.count("redirects/offsite")
        return response


def _key(url: str) -> str:
    try:
        return url_key(canonicalize(url))
    except InvalidURL:
        return url
