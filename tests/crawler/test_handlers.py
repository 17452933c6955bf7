"""The download handler's close, in a child process with its own reactor: the pool finishing in
the very turn its one-second timeout is due (here both are due at once) logs nothing."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    from scrapy.utils.reactor import install_reactor
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.misc import load_object
    from scrapy.utils.test import get_crawler

    handler = load_object(sys.argv[1])(get_crawler())
    handler._disconnect_timeout = 0
    pool_closed = Deferred()

    def close_cached_connections():
        reactor.callLater(0, pool_closed.callback, None)  # due in the timeout's turn, first
        return pool_closed

    handler._pool.closeCachedConnections = close_cached_connections
    deferred_from_coro(handler.close()).addBoth(lambda _: reactor.callLater(0.1, reactor.stop))
    reactor.run()
    print("closed" if pool_closed.called else "not closed")
    """
)


def close_handler(path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, path], capture_output=True, text=True, timeout=60
    )


def test_a_pool_closing_as_its_timeout_fires_logs_no_traceback():
    closed = close_handler("crawler.handlers.HTTPDownloadHandler")
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.strip() == "closed"
    assert "Traceback" not in closed.stderr, closed.stderr


@pytest.mark.parametrize("path", ["scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"])
def test_scrapys_own_handler_still_has_the_race(path):
    """If Scrapy fixes its close, this fails: drop crawler/handlers.py then."""
    assert "AlreadyCalledError" in close_handler(path).stderr
