"""Pages rendered in a browser (a source's `render`): scrapy-playwright driving Debian's chromium.

Chromium fetches nothing itself. It starts with every host name mapped to "not found" and a
dead proxy for anything else, and every request a page makes (the page itself, scripts, XHR)
is answered by `BrowserFetcher` through the crawl's own downloader: the private-address guard,
robots.txt, politeness (delay and concurrency per host, in a download slot of its own so the
page waiting for them never holds theirs), size limits, the source's User-Agent, headers,
cookies and proxy apply to each as to any request of the source. Images, fonts and media are
not fetched at all.

The process starts one browser, when the first page is to be rendered, and shares it between
the crawlers of every source that renders (`SharedBrowserProvider`); sources that render
nothing keep Scrapy's plain HTTP handler and never start it.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request as PlaywrightRequest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy import Request
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from scrapy_playwright.page import PageMethod

from crawler.fetchoptions import user_agent
from crawler.handlers import HTTPDownloadHandler

if TYPE_CHECKING:
    from playwright.async_api import Playwright
    from scrapy.crawler import Crawler
    from scrapy_playwright.handler import Config as PlaywrightConfig

    from crawler.config.models import Config, Source

log = logging.getLogger(__name__)

# How long a loaded page may keep fetching (polling, analytics) before it is read as it is.
NETWORK_IDLE_MS = 5000
BLOCKED_RESOURCES = {"image", "font", "media"}
FETCHED = "newsmon_browser_fetch"  # meta key of the requests BrowserFetcher makes
RENDER_TIMEOUT = "newsmon_render_timeout"  # meta key: the source's render.timeout
# Not passed on from Chromium: newsmon sets these itself, or sends none (Referer, cookies).
DROPPED_REQUEST_HEADERS = {
    "user-agent",
    "cookie",
    "referer",
    "host",
    "accept-encoding",
    "content-length",
    "connection",
}
DROPPED_RESPONSE_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "set-cookie"}


def abort_everything(_request: PlaywrightRequest) -> bool:
    return True


class SharedBrowserProvider:
    """One Playwright driver and one Chromium for the whole process, whatever the number of
    crawlers that render; closed when the last of them closes."""

    _lock: asyncio.Lock | None = None
    _users = 0
    _playwright: Playwright | None = None
    _browser: Browser | None = None

    def __init__(self, config: PlaywrightConfig) -> None:
        self.config = config
        self.started = False

    @classmethod
    def lock(cls) -> asyncio.Lock:
        if cls._lock is None:
            cls._lock = asyncio.Lock()
        return cls._lock

    async def start(self) -> None:
        """Count this crawler in; the driver starts with the first browser."""
        SharedBrowserProvider._users += 1
        self.started = True

    async def launch_browser(self) -> Browser:
        cls = SharedBrowserProvider
        async with cls.lock():
            if cls._browser is None or not cls._browser.is_connected():
                if cls._playwright is None:
                    cls._playwright = await async_playwright().start()
                log.info("starting Chromium (%s)", self.config.launch_options["executable_path"])
                cls._browser = await cls._playwright.chromium.launch(**self.config.launch_options)
            return cls._browser

    async def launch_persistent_context(self, context_kwargs: dict[str, Any]) -> BrowserContext:
        raise NotImplementedError("newsmon keeps no browser profile")

    async def close(self) -> None:
        cls = SharedBrowserProvider
        if not self.started:
            return
        self.started = False
        cls._users -= 1
        if cls._users > 0:
            return
        async with cls.lock():
            browser, playwright = cls._browser, cls._playwright
            cls._browser = cls._playwright = None
            if browser is not None:
                with suppress(PlaywrightError):
                    await browser.close()
            if playwright is not None:
                await playwright.stop()


# scrapy-playwright ships no type information.
class BrowserDownloadHandler(ScrapyPlaywrightDownloadHandler, HTTPDownloadHandler):  # type: ignore[misc]
    """scrapy-playwright's handler for rendered requests (HTTPDownloadHandler's for the rest),
    with a time limit on each page, a size limit on what it renders to, and the browser left
    to its provider when a crawler closes."""

    async def _download_request_with_page(
        self, request: Request, page: Page, spider: Any
    ) -> Response:
        # The limit counts rendering only, not the wait for a free page of the context.
        limit: float = request.meta[RENDER_TIMEOUT]
        try:
            response: Response = await asyncio.wait_for(
                super()._download_request_with_page(request, page, spider), limit + 5
            )
        except (TimeoutError, PlaywrightTimeoutError) as error:
            raise DownloadTimeoutError(
                f"rendering {request.url} took longer than {limit:g}s ({type(error).__name__})"
            ) from None
        maxsize = self._crawler.settings.getint("DOWNLOAD_MAXSIZE")
        if maxsize and len(response.body) > maxsize:
            raise DownloadCancelledError(
                f"rendered page of {len(response.body)} bytes is larger than {maxsize}"
            )
        return response

    async def _close(self) -> None:
        with suppress(PlaywrightError):
            await asyncio.gather(*[ctx.context.close() for ctx in self.context_wrappers.values()])
        self.context_wrappers.clear()
        if getattr(self, "browser_provider", None):
            await self.browser_provider.close()


async def settle(page: Page, selector: str | None, timeout_ms: float, idle_ms: float) -> None:
    """Wait until the loaded page is ready to be read: `selector` present (else the request
    fails), or the network idle (or `idle_ms` gone: then it is read as it is)."""
    if selector:
        await page.wait_for_selector(selector, state="attached", timeout=timeout_ms)
        return
    with suppress(PlaywrightTimeoutError):
        await page.wait_for_load_state("networkidle", timeout=idle_ms)


class BrowserFetcher:
    """Answers each request a rendered page makes with the crawl's own download of it."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @staticmethod
    def made(request: Request) -> bool:
        """Whether `request` is one this fetcher made for a page."""
        return bool(request.meta.get(FETCHED))

    def render_meta(self, config: Config, source: Source, waits: bool) -> dict[str, Any]:
        """What scrapy-playwright needs to render a request of `source` (`waits` for its
        wait_for selector, if it has one)."""
        render = source.render
        timeout_ms = render.timeout * 1000
        selector = render.wait_for if waits else None
        return {
            "playwright": True,
            RENDER_TIMEOUT: render.timeout,
            "playwright_context": source.name,
            "playwright_context_kwargs": {
                "user_agent": user_agent(config, source),
                "service_workers": "block",  # their requests would not pass `answer`
                "accept_downloads": False,
            },
            "playwright_page_init_callback": self.attach,
            "playwright_page_goto_kwargs": {
                "wait_until": "domcontentloaded" if selector else "load",
                "timeout": timeout_ms,
            },
            "playwright_page_methods": [
                PageMethod(settle, selector, timeout_ms, min(NETWORK_IDLE_MS, timeout_ms / 2))
            ],
        }

    def count(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newsmon/browser/{key}")

    async def attach(self, page: Page, _request: Request) -> None:
        # Registered after scrapy-playwright's own route, so it runs first (Playwright runs
        # the last one registered) and answers every request: that one never sees any.
        await page.route("**", self.answer)

    async def answer(self, route: Route, browser_request: PlaywrightRequest) -> None:
        if browser_request.resource_type in BLOCKED_RESOURCES:
            self.count(f"blocked/{browser_request.resource_type}")
            await route.abort("blockedbyclient")
            return
        if urlsplit(browser_request.url).scheme not in ("http", "https"):
            self.count("blocked/scheme")
            await route.abort("blockedbyclient")
            return
        request = await self.scrapy_request(browser_request)
        try:
            response = await self.crawler.engine.download_async(request)
        except IgnoreRequest as refused:
            self.count("refused")
            log.info("browser request refused: %s (%s)", browser_request.url, refused)
            await route.abort("blockedbyclient")
            return
        except Exception as error:  # noqa: BLE001 - the page sees a failed request, as a browser would
            self.count("failed")
            log.info("browser request failed: %s (%s)", browser_request.url, error)
            await route.abort("failed")
            return
        self.count("fetched")
        headers = {
            name.decode("latin-1"): b", ".join(values).decode("latin-1")
            for name, values in response.headers.items()
            if name.decode("latin-1").lower() not in DROPPED_RESPONSE_HEADERS
        }
        with suppress(PlaywrightError):  # the page may have gone: nothing waits for this
            await route.fulfill(status=response.status, headers=headers, body=response.body)

    async def scrapy_request(self, browser_request: PlaywrightRequest) -> Request:
        headers = {
            name: value
            for name, value in (await browser_request.all_headers()).items()
            if name.lower() not in DROPPED_REQUEST_HEADERS and not name.startswith(":")
        }
        request = Request(
            browser_request.url,
            method=browser_request.method,
            headers=headers,
            body=browser_request.post_data_buffer or b"",
            dont_filter=True,
            meta={FETCHED: True},
        )
        # A slot of its own per host: the rendered page holds one of the host's slots while it
        # waits for these, which must not queue behind it.
        request.meta["download_slot"] = f"{urlparse_cached(request).hostname}#browser"
        return request
