"""The crawl's HTTP(S) download handler: Scrapy's HTTP/1.1 handler, closed without a race.

Scrapy's close() gives the connection pool one second, then fires the pool's Deferred itself. When
the pool finishes in the same reactor turn as that timeout, the coroutine that would cancel it has
not resumed yet, and the timeout fires a Deferred already fired: Twisted logs AlreadyCalledError
as a CRITICAL traceback at the end of a crawl that went well.
"""

from __future__ import annotations

from typing import Any, cast

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred


def _fire_once(deferred: Deferred[Any]) -> None:
    if not deferred.called:
        deferred.callback(None)


class HTTPDownloadHandler(HTTP11DownloadHandler):
    async def close(self) -> None:
        from twisted.internet import reactor as installed_reactor

        reactor = cast(Any, installed_reactor)  # zope interfaces elude mypy
        closed: Deferred[None] = self._pool.closeCachedConnections()
        # closeCachedConnections can hang on a server that never answers (Twisted #7738).
        timeout = reactor.callLater(self._disconnect_timeout, _fire_once, closed)
        try:
            await maybe_deferred_to_future(closed)
        finally:
            if timeout.active():
                timeout.cancel()
