"""Which requests a browser renders: a source's discovery pages and articles, as its `render`
says, up to `render.max_pages` per run. The browser itself is crawler/browser.py, imported only
by a crawler whose source renders: a plain crawl never loads Playwright."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.components import Component

RENDERED_STAT = "rendered_pages"
CHROMIUM_ENV = "NEWSMON_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_PACKAGE = "chromium"  # Debian's
# Chromium's own network is closed: names never resolve, and what needs no name (an IP
# literal, a WebSocket, WebRTC) goes to a proxy that is not there.
CHROMIUM_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
]


def chromium_path() -> Path:
    return Path(os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)


def browser_missing() -> str | None:
    """Why no page can be rendered in this process, or None when Chromium is there."""
    path = chromium_path()
    if not os.access(path, os.X_OK):
        return (
            f"render: browser needs Chromium, and {path} is missing"
            f" (install Debian's package: apt-get install {CHROMIUM_PACKAGE})"
        )
    return None


def browser_settings() -> dict[str, Any]:
    """The Scrapy settings of a crawler whose source renders pages."""
    handler = "crawler.browser.BrowserDownloadHandler"
    return {
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_BROWSER_PROVIDER": "crawler.browser.SharedBrowserProvider",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": str(chromium_path()),
            "headless": True,
            "args": CHROMIUM_ARGS,
        },
        # Fail closed: were BrowserFetcher's route not in place, scrapy-playwright's own
        # handler would let Chromium fetch; it aborts everything instead.
        "PLAYWRIGHT_ABORT_REQUEST": "crawler.browser.abort_everything",
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    }


class RenderCap(IgnoreRequest):
    """The source rendered `render.max_pages` pages this run: the rest wait for the next one."""

    kind = "render_cap"


class RenderMiddleware(Component):
    """Downloader middleware: marks the requests to render for scrapy-playwright. robots.txt,
    and the requests a rendered page makes (crawler/browser.py answers them through the crawl),
    are fetched plainly."""

    def configure(self) -> None:
        if not self.context.source.render.renders_anything:
            raise NotConfigured
        from crawler.browser import BrowserFetcher

        self.fetcher = BrowserFetcher(self.crawler)
        self.rendered = 0

    def process_request(self, request: Request) -> None:
        if self.fetcher.made(request):
            return
        if "first_discovery" in request.meta:
            discovery = True
        elif "hints" in request.cb_kwargs:  # an article, new or re-checked
            discovery = False
        else:
            return  # robots.txt
        source = self.context.source
        if not source.renders(discovery):
            return
        if self.rendered >= source.render.max_pages:
            raise RenderCap(f"render.max_pages ({source.render.max_pages}) reached")
        self.rendered += 1
        self.count(RENDERED_STAT)
        # wait_for is the listing's selector, or the articles' when only they are rendered.
        waits = discovery or not source.renders(discovery=True)
        request.meta.update(self.fetcher.render_meta(self.context.config, source, waits))
