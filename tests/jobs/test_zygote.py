"""jobs/zygote.py: the daemon's warm parent of crawl children, run for real on a local site."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Iterator

import pytest

from jobs.zygote import Zygote
from tests.jobs.helpers import write_config
from tests.jobs.newssite import Layout, NewsSite
from tests.localsite import LocalSite
from tests.processes import children_of, session_members, wait_until_gone

pytestmark = pytest.mark.slow


@pytest.fixture
def news() -> Iterator[NewsSite]:
    with LocalSite() as site:
        news = NewsSite(site, Layout(feed=4))
        yield news
        news.release()


def stored(db) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute("select count(*) from items").fetchone()[0]
    except sqlite3.OperationalError:  # no tables yet
        return 0


def test_a_forked_child_crawls_in_its_own_session_and_reports_its_exit(tmp_path, news):
    config = write_config(tmp_path, news.site, news.sources(["feed"]))
    stderr = tmp_path / "stderr.log"

    async def crawl_then_misuse() -> tuple[int, int, list[int], int]:
        zygote = Zygote()
        try:
            child = await zygote.spawn(["--config", str(config), "crawl"], os.environ, str(stderr))
            assert zygote.process is not None
            forked_by_zygote = child.pid in children_of(zygote.process.pid)
            own_session = session_members(child.pid)  # it leads a session of its own
            code = await child.wait()
            wrong = await zygote.spawn(["crawl", "--no-such-option"], os.environ, str(stderr))
            return code, await wrong.wait(), own_session, forked_by_zygote
        finally:
            await zygote.close()

    code, wrong_code, own_session, forked_by_zygote = asyncio.run(crawl_then_misuse())
    assert forked_by_zygote and own_session
    assert code == 0, stderr.read_text()
    assert stored(tmp_path / "newsmon.db") == 4
    assert wrong_code == 2
    assert "No such option '--no-such-option'" in stderr.read_text()


def test_a_killed_zygote_takes_its_running_children_with_it(tmp_path, news):
    news.hanging.add(news.sections["feed"][-1])  # the crawl waits here
    config = write_config(tmp_path, news.site, news.sources(["feed"]))

    async def kill_zygote_mid_crawl() -> tuple[int, int | None]:
        zygote = Zygote()
        child = await zygote.spawn(
            ["--config", str(config), "crawl"], os.environ, str(tmp_path / "stderr.log")
        )
        deadline = time.monotonic() + 60
        while stored(tmp_path / "newsmon.db") < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert zygote.process is not None
        os.kill(zygote.process.pid, signal.SIGKILL)
        await asyncio.wait_for(child.wait(), 10)  # the zygote's end is the child's, as seen
        return child.pid, child.returncode

    pid, returncode = asyncio.run(kill_zygote_mid_crawl())
    news.release()
    assert returncode == -signal.SIGKILL
    assert wait_until_gone(pid, timeout=10) == []  # its lifeline saw the zygote die
