"""What every discovery spider shares: article requests, error counting, the source's context."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from OpenSSL import SSL
from scrapy import Request, Spider, signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from service_identity import VerificationError
from twisted.python.failure import Failure

from crawler.charset import decode_html
from crawler.incremental import IncrementalSpider
from crawler.items import FetchedPage, Hints, RawResponse
from crawler.pool import start_extraction_pool
from crawler.redact import unsealed
from crawler.urls import InvalidURL, canonicalize, url_key
from storage.clock import utcnow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.context import SourceContext

log = logging.getLogger(__name__)

HTML_TYPES = (b"text/html", b"application/xhtml+xml")
READ = "newsmon_read"  # meta key: what read_discovery found on the page
ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (DownloadTimeoutError, "timeout"),
    (CannotResolveHostError, "dns"),
    (DownloadConnectionRefusedError, "connection"),
    (DownloadCancelledError, "too_large"),
    (ResponseDataLossError, "data_loss"),
    (DownloadFailedError, "download"),
)


# IgnoreRequest messages of Scrapy's own middlewares that are failures, not policy skips.
IGNORED_ERRORS = (
    ("max redirections reached", "too_many_redirects"),
    ("during decompression", "too_large"),
)


def error_kind(failure: Failure) -> str:
    """A short, countable name for why a request failed: http_404, timeout, dns, tls…"""
    error = failure.value
    # HttpError is an IgnoreRequest: test it first, or every 404 would pass for a skip.
    if isinstance(error, HttpError):
        return f"http_{error.response.status}"
    if isinstance(error, IgnoreRequest):
        return ignored_kind(error)
    if tls_problem(error):
        return "tls"
    for error_type, kind in ERROR_KINDS:
        if isinstance(error, error_type):
            return kind
    return type(error).__name__.lower()


def tls_problem(error: BaseException) -> str | None:
    """Why the TLS handshake failed, when that is why the download did: an untrusted or
    wrong-name certificate. Scrapy wraps Twisted's failures, which hold the OpenSSL error."""
    reasons = getattr(error.__cause__, "reasons", ())
    for reason in reasons:  # the chain first: a self-signed certificate matches no name either
        if reason.check(SSL.Error):
            found = [part[-1] for part in reason.value.args[0] if isinstance(part, tuple)]
            return ", ".join(filter(None, found)) or "TLS handshake failed"
    if any(reason.check(VerificationError) for reason in reasons):
        return "certificate does not match the host name"
    return None


def ignored_kind(error: IgnoreRequest) -> str:
    """Why a request was dropped: a policy skip (`skipped/robots`, `skipped/blocked`) or a
    failure counted as an error (`redirect_loop`, `too_many_redirects`, `too_large`…)."""
    kind = getattr(error, "kind", None)  # newsmon's own middlewares say it themselves
    if isinstance(kind, str):
        return kind
    message = str(error)
    if message == "Forbidden by robots.txt":
        return "skipped/robots"
    for fragment, kind in IGNORED_ERRORS:
        if fragment in message:
            return kind
    return "skipped/blocked"


@dataclass
class Links:
    """A discovery page's article links, canonical and keyed (url_key -> (url, hints))."""

    found: dict[str, tuple[str, Hints]] = field(default_factory=dict)
    listed: int = 0  # links on the page
    invalid: int = 0  # not http(s) URLs with a host
    capped: int = 0  # past max_links_per_page: not read
    off_pattern: int = 0  # on the page but not matching the listing's `follow`


def read_links(found: Sequence[tuple[str, Hints]], base: str, cap: int) -> Links:
    """The first `cap` links of a page, canonicalised and keyed, once each. Pure (no spider
    state), so it can run off the reactor thread: 50,000 links take seconds."""
    links = Links(listed=len(found), capped=max(0, len(found) - cap))
    for raw_url, hints in found[:cap]:
        try:
            url = canonicalize(raw_url, base=base)
        except InvalidURL:
            links.invalid += 1
            continue
        links.found.setdefault(url_key(url), (url, hints))
    return links


def failed_url(failure: Failure) -> str:
    # Scrapy attaches the request to the failure it hands an errback.
    request = getattr(failure, "request", None)
    return request.url if request is not None else "?"


def raw_response(response: Response) -> RawResponse:
    """What the page archive keeps of an article response: its final URL as fetched (not
    canonicalised), and its body as Scrapy decoded it, bounded by max_page_bytes."""
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in response.headers.items()
        for value in values
    ]
    return RawResponse(response.url, response.status, headers, response.body, utcnow())


class SourceSpider(IncrementalSpider, Spider):
    """A spider for one configured source. Subclasses only turn discovery responses into URLs."""

    name = "source"

    def __init__(self, context: SourceContext, **kwargs: Any) -> None:
        super().__init__(name=context.source.name, **kwargs)
        self.context = context
        self.source = context.source
        self.requested: set[str] = set()
        self.out_of_articles = False  # max_articles reached: this run requests no more
        self.known_keys: set[str] = set()  # of the last article_requests call
        self.archiving = context.config.archives(context.source)
        self.init_incremental()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.item_error, signal=signals.item_error)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        backfill = self.context.backfill
        if backfill is not None and backfill.resume_url:  # a backfill resumes where it stopped
            resume = unsealed(backfill.resume_url, self.source.url)
            request = self.discovery_request(resume, page=backfill.resume_page)
        else:
            request = self.discovery_request(self.source.url)
        if request is not None:
            yield request

    def discovery_request(
        self,
        url: str,
        below: Response | None = None,
        *,
        page: int | None = None,
        first: bool | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Request | None:
        """A feed, sitemap or listing page (`below` the response that led to it, if any);
        None when this run walks it already. Failing on the first one fails the source."""
        walk = self.walks.open(url, below.meta["walk"] if below is not None else None, page)
        if walk is None:
            return None
        first = below is None if first is None else first
        return Request(
            url,
            callback=self.discovery_arrived,
            errback=self.on_discovery_error if first else self.on_error,
            dont_filter=first,
            meta={"first_discovery": first, "walk": walk, **(meta or {})},
        )

    async def discovery_arrived(self, response: Response) -> list[Request]:
        """The callback of every discovery request. A page's links are read (parsed,
        canonicalised) in a worker thread, so a huge feed or sitemap never stalls the other
        sources' crawls; the rest runs on the reactor (discovery_response, which skips an
        unchanged response, then parse_discovery with what was read)."""
        if response.meta.get("first_discovery"):
            self.context.saw_discovery(response)
        if not response.meta.get("unchanged"):
            # Walking from before the page is read: were reading it to raise, the walk stays
            # unfinished in the database too, and no later shortcut trusts its old state.
            self.walks.walking(response.meta["walk"])
            response.meta[READ] = await asyncio.to_thread(self.read_discovery, response)
        return self.discovery_response(response)

    def read_discovery(self, response: Response) -> Any:
        """What parse_discovery needs from the page, worked out in a worker thread: it must not
        touch the spider's state or stats. Nothing by default."""
        return None

    def parse_discovery(self, response: Response) -> Iterable[Request]:
        raise NotImplementedError

    def article_requests(self, links: Links, page_url: str) -> list[Request]:
        """Requests for discovered article URLs that are new: not stored, not requested yet."""
        self.count("skipped/invalid_url", links.invalid)
        self.count("skipped/off_pattern", links.off_pattern)
        self.tally("discovered", links.listed + links.off_pattern)
        self.tally("matched", len(links.found))
        if links.capped:
            self.count("skipped/link_cap", links.capped)
            self.discovery_incomplete = True  # the next run must see this page again
            log.warning(
                "%s: %s lists %d links; only the first %d are read (max_links_per_page)",
                self.name,
                page_url,
                links.listed,
                self.source.max_links_per_page,
            )
        candidates = {k: found for k, found in links.found.items() if k not in self.requested}
        known = self.context.known_url_keys(candidates)
        self.known_keys = known
        self.all_known = bool(candidates) and len(known) == len(candidates)
        # A backfill asked for more than routine runs fetch: no per-run cap there.
        limit = self.source.max_articles if self.context.backfill is None else None
        requests = self.recheck_requests(known, candidates)
        self.count("skipped/known", len(known) - len(requests))
        for key, (url, hints) in candidates.items():
            if key in known:
                continue
            if limit is not None and len(self.requested) >= limit:
                self.count("skipped/max_articles")
                self.discovery_incomplete = True  # the next run must see this page again
                self.out_of_articles = True
                continue
            self.requested.add(key)
            requests.append(
                Request(
                    url,
                    callback=self.parse_article,
                    errback=self.on_error,
                    cb_kwargs={"hints": hints},
                )
            )
        if requests:  # warm by the time the first of these pages arrives
            start_extraction_pool(self.context.matcher, len(requests))
        return requests

    def parse_article(self, response: Response, hints: Hints) -> Iterable[FetchedPage]:
        self.count("pages")
        content_type = (response.headers.get(b"Content-Type") or b"text/html").lower()
        if not isinstance(response, TextResponse) or not content_type.startswith(HTML_TYPES):
            self.count("skipped/not_html")
            self.walks.settle(response.meta["walk"], ok=True)
            return
        # Requests go out canonical; only a redirect can bring back another form.
        requested = response.request.url if response.request else None
        url = response.url if response.url == requested else canonicalize(response.url)
        # Decoded here, never handed over as bytes: BOM, then a declared charset that fits the
        # bytes, then detection (crawler/charset.py), so a lying header leaves no mojibake.
        html, _encoding = decode_html(response.body, content_type.decode("latin-1"))
        yield FetchedPage(
            source=self.source.name,
            url=url,
            html=html,
            hints=hints,
            walk=response.meta["walk"],
            raw=raw_response(response) if self.archiving else None,
        )

    def on_error(self, failure: Failure) -> None:
        kind = error_kind(failure)
        request = getattr(failure, "request", None)
        skipped = kind.startswith("skipped/")
        if request is not None:
            self.request_ended(request, ok=skipped)
        if skipped:
            self.count(kind)
            return
        self.count(f"errors/{kind}")
        log.warning("%s: %s failed: %s", self.name, failed_url(failure), kind)

    def on_discovery_error(self, failure: Failure) -> None:
        self.on_error(failure)
        if isinstance(failure.value, HttpError):  # a response came, refused: report its status
            self.context.saw_discovery(failure.value.response)
        reason = error_kind(failure).removeprefix("skipped/")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            reason = f"{reason} ({failure.value})"
        elif reason == "tls":
            reason = f"tls ({tls_problem(failure.value)})"
        self.context.discovery_error = f"{failed_url(failure)}: {reason}"

    def item_error(self, item: Any, failure: Failure) -> None:
        """A pipeline stage raised (Scrapy logged it): the item is lost to this run, so the
        run is not `ok`, and its walk, never settled, stays unfinished for the next run."""
        self.count("errors/pipeline")

    def request_dropped(self, request: Request) -> None:
        """Scrapy's scheduler dropped a request as a duplicate of one this crawl already made
        (two links redirecting to one page, say): that one settles the page, in this walk
        tracker too, so this one is done."""
        self.request_ended(request, ok=True)

    def discovery_unusable(self, response: Response, reason: str) -> None:
        """A discovery response arrived but could not be used (unparsable feed, not a sitemap)."""
        self.count("errors/parse")
        self.discovery_incomplete = True
        if response.meta.get("first_discovery"):
            self.context.discovery_error = (
                self.context.discovery_error or f"{response.url}: {reason}"
            )
        log.warning("%s: %s: %s", self.name, response.url, reason)

    def count(self, key: str, amount: int = 1) -> None:
        if amount and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newsmon/{key}", amount)

    def tally(self, key: str, amount: int) -> None:
        """Like count, but a zero is recorded too: "found no links" differs from "read no
        page" (source health tells a broken discovery page from an unchanged one)."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newsmon/{key}", amount)
