import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares import (
    ALLOWED_PRIVATE_HOSTS_SETTING,
    BLOCKED_STAT,
    PrivateAddressMiddleware,
)
from tests.crawler.scrapy_child import crawl_once


class StubSpider(Spider):
    name = "stub"


def make_crawler(allowed: set[str], settings: dict | None = None):
    settings = {**(settings or {}), ALLOWED_PRIVATE_HOSTS_SETTING: sorted(allowed)}
    crawler = get_crawler(StubSpider, settings)
    crawler.spider = StubSpider.from_crawler(crawler)
    return crawler


def process(crawler, url: str) -> None:
    middleware = PrivateAddressMiddleware.from_crawler(crawler)
    return asyncio.run(middleware.process_request(Request(url)))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://2130706433/",
        "http://localhost/",
    ],
)
def test_private_addresses_are_ignored_and_counted(url):
    crawler = make_crawler(set())
    with pytest.raises(IgnoreRequest, match="private address"):
        process(crawler, url)
    assert crawler.stats.get_value(BLOCKED_STAT) == 1


def test_an_allowed_host_passes():
    crawler = make_crawler({"127.0.0.1"})
    assert process(crawler, "http://127.0.0.1:1/x") is None
    assert crawler.stats.get_value(BLOCKED_STAT) is None
    with pytest.raises(IgnoreRequest):
        process(crawler, "http://169.254.169.254/latest/meta-data")


def test_public_addresses_pass():
    crawler = make_crawler(set())
    assert process(crawler, "http://93.184.216.34/article") is None
    assert crawler.stats.get_value(BLOCKED_STAT) is None


def test_each_refusal_is_counted_but_logged_once_per_host(caplog):
    crawler = make_crawler(set())
    middleware = PrivateAddressMiddleware.from_crawler(crawler)

    async def run():
        for url in ["http://10.0.0.1/a", "http://10.0.0.1/b", "http://10.0.0.2/a"]:
            with pytest.raises(IgnoreRequest):
                await middleware.process_request(Request(url))

    with caplog.at_level(logging.WARNING, logger="crawler.middlewares"):
        asyncio.run(run())
    assert crawler.stats.get_value(BLOCKED_STAT) == 3
    assert [record.args[0] for record in caplog.records] == [
        "http://10.0.0.1/a",
        "http://10.0.0.2/a",
    ]


def test_the_downloader_chain_never_downloads_a_refused_request():
    # Through Scrapy's own manager, as configured in crawler/settings.py: no deprecation
    # warning about the signature, and the download function is not reached.
    crawler = make_crawler(
        {"127.0.0.1"},
        {"DOWNLOADER_MIDDLEWARES": {"crawler.middlewares.PrivateAddressMiddleware": 50}},
    )
    manager = DownloaderMiddlewareManager.from_crawler(crawler)
    downloaded: list[str] = []

    async def download(request: Request) -> HtmlResponse:
        downloaded.append(request.url)
        return HtmlResponse(request.url, body=b"<html></html>")

    async def run():
        ok = await manager.download_async(download, Request("http://127.0.0.1:1/ok"))
        with pytest.raises(IgnoreRequest):
            await manager.download_async(download, Request("http://[::ffff:10.0.0.1]/"))
        return ok

    assert asyncio.run(run()).url == "http://127.0.0.1:1/ok"
    assert downloaded == ["http://127.0.0.1:1/ok"]
    assert crawler.stats.get_value(BLOCKED_STAT) == 1


class RedirectingHandler(BaseHTTPRequestHandler):
    """/start redirects to the same server under the name "localhost", which is not allowed."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(f"{self.headers['Host']}{self.path}")
        if self.path == "/start":
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/secret")
            self.end_headers()
        else:
            body = b"<html><body>internal</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting_server() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (RedirectingHandler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_a_redirect_into_private_space_is_refused(redirecting_server):
    # A real crawl (in its own process, for its own reactor): Scrapy schedules the redirect
    # as a new request, which passes through the middleware again.
    port, seen = redirecting_server
    middleware = {"DOWNLOADER_MIDDLEWARES": {"crawler.middlewares.PrivateAddressMiddleware": 50}}
    stats = crawl_once(f"http://127.0.0.1:{port}/start", middleware, ["127.0.0.1"])
    assert seen == [f"127.0.0.1:{port}/start"]
    assert stats[BLOCKED_STAT] == 1
    assert stats["downloader/response_status_count/302"] == 1
    assert "item_scraped_count" not in stats


def test_a_host_that_does_not_resolve_fails_as_a_dns_error_not_a_pass(monkeypatch):
    def getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)  # no query leaves the machine
    crawler = make_crawler(set())
    with pytest.raises(CannotResolveHostError, match="nothing-here.invalid"):
        process(crawler, "http://nothing-here.invalid/story")
    assert crawler.stats.get_value(BLOCKED_STAT) is None
