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


def test_a_stuck_zygote_is_replaced_by_the_next_batch(tmp_path, news, monkeypatch):
    import jobs.zygote

    monkeypatch.setattr(jobs.zygote, "FORK_TIMEOUT_S", 2.0)
    config = write_config(tmp_path, news.site, news.sources(["feed"]))
    argv = ["--config", str(config), "crawl"]
    stderr = str(tmp_path / "stderr.log")

    async def stop_then_spawn() -> tuple[str, int, int]:
        zygote = Zygote()
        first = await zygote.spawn(argv, os.environ, stderr)
        await first.wait()
        assert zygote.process is not None
        stuck = zygote.process.pid
        os.kill(stuck, signal.SIGSTOP)
        with pytest.raises(RuntimeError) as refused:
            await zygote.spawn(argv, os.environ, stderr)
        await asyncio.wait_for(zygote.process.wait(), 10)  # killed, not left stopped
        again = await zygote.spawn(argv, os.environ, stderr)  # a new zygote forks it
        code = await again.wait()
        await zygote.close()
        return str(refused.value), stuck, code

    message, stuck, code = asyncio.run(stop_then_spawn())
    assert "did not fork in 2s" in message
    assert wait_until_gone(stuck, timeout=5) == []
    assert code == 0
