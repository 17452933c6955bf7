"""Conditional GET for discovery pages and re-checked articles, with a body-hash fallback.

Discovery requests (feeds, sitemaps, listing pages: `first_discovery` in their meta) and
re-check requests (`recheck` in their meta) go out with If-None-Match / If-Modified-Since
from the last run. A 304, or a 200 whose body hashes the same as last time, marks the
response `unchanged` and the spider discovers nothing from it (and parses nothing).

Conditional headers go only to a discovery URL whose last walk caught up (crawler/walks.py),
and its validators are saved only when a walk of it caught up: so neither a crash nor a walk
cut short makes the next run skip what was never stored.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.http import Response

from crawler.components import Component
from crawler.http_rules import conditional_headers, unchanged
from storage.validators import Validators, body_hash

log = logging.getLogger(__name__)

UNCHANGED = "skipped/unchanged"  # the count of responses found unchanged
CONDITIONAL_HEADERS = (b"If-None-Match", b"If-Modified-Since")


class ConditionalGetMiddleware(Component):
    """Downloader middleware: conditional headers out, `unchanged` responses in. The
    validators are the source's (its context's ValidatorBook, crawler/validators.py): a crawl
    that is not a source's has none, and leaves this middleware out."""

    def process_request(self, request: Request) -> None:
        # A redirect copies the headers of the request it replaces: start clean for this URL.
        for name in CONDITIONAL_HEADERS:
            request.headers.pop(name, None)
        book = self.context.validator_book
        if "first_discovery" in request.meta:
            # The spider's rule (a listing page's differs): may its last walk be trusted?
            if not self.crawler.spider.may_shortcut(request.url):  # type: ignore[union-attr]
                return  # its last walk did not catch up: fetch and parse it in full
            validators = book.lookup(request.url)
        elif "recheck" in request.meta:
            validators = request.meta["recheck"].validators
        else:
            return
        if validators is None:
            return
        request.meta["known_body_hash"] = validators.body_hash
        if self.context.source.conditional is False:
            return  # `conditional: false`: its server's 304s are not trusted; bodies are compared
        for header, value in conditional_headers(validators).items():
            request.headers[header] = value
        # HttpErrorMiddleware drops non-2xx responses unless told otherwise.
        allowed = request.meta.get("handle_httpstatus_list", [])
        request.meta["handle_httpstatus_list"] = [*allowed, 304]

    def process_response(self, request: Request, response: Response) -> Response:
        book = self.context.validator_book
        conditional = "first_discovery" in request.meta or "recheck" in request.meta
        if not (conditional or request.meta.get("article")):
            return response
        known = Validators(body_hash=request.meta.get("known_body_hash"))
        if conditional and unchanged(response.status, response.body, known):
            return self._unchanged(
                request, response, "304" if response.status == 304 else "same body"
            )
        if response.status != 200:
            return response
        digest = body_hash(response.body)
        if "recheck" in request.meta:
            kind = "recheck"
        elif "first_discovery" in request.meta:
            kind = "discovery"
        else:
            kind = "article"
        book.record(request.url, response, digest, kind=kind)
        return response

    def _unchanged(self, request: Request, response: Response, why: str) -> Response:
        request.meta["unchanged"] = True
        self.count(UNCHANGED)
        log.debug("%s unchanged (%s)", request.url, why)
        return response
