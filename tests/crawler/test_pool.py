"""The extraction pool's processes never outlive the crawl: killed, hung or finished."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.faults.child import start_newsmon
from tests.jobs.helpers import write_config
from tests.jobs.newssite import Layout, NewsSite
from tests.localsite import LocalSite
from tests.processes import kill_session, session_members, wait_until_gone

pytestmark = pytest.mark.slow


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def test_a_crawl_killed_alone_with_sigkill_leaves_no_pool_process(tmp_path, site):
    news = NewsSite(site, Layout(feed=40))
    news.hanging.add(news.sections["feed"][-1])  # the crawl waits here, pool up
    config = write_config(tmp_path, site, news.sources(["feed"]))
    child = start_newsmon(config, "crawl")
    try:
        deadline = time.monotonic() + 60
        # The crawl, the fork server, two workers and the resource tracker.
        while len(session_members(child.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(session_members(child.pid)) >= 4, "the pool never started"
        os.kill(child.pid, signal.SIGKILL)  # the crawl alone, as the OOM killer does
        child.communicate(timeout=30)
        assert wait_until_gone(child.pid, timeout=5) == []
    finally:
        news.release()
        kill_session(child.pid)


def test_a_hung_extraction_is_killed_at_exit_not_waited_for(tmp_path, site):
    news = NewsSite(site, Layout(feed=4))
    hung = news.sections["feed"][1]
    config = write_config(tmp_path, site, news.sources(["feed"]))
    started = time.monotonic()
    child = start_newsmon(
        config,
        "crawl",
        env={"NEWSMON_TEST_HUNG_PAGE": hung, "NEWSMON_TEST_EXTRACT_TIMEOUT": "3"},
        hook="tests.jobs.pipeline_faults",
    )
    try:
        stdout, stderr = child.communicate(timeout=60)
    finally:
        kill_session(child.pid)
    assert child.returncode == 0, stderr
    assert time.monotonic() - started < 30
    assert "hung; killing it" in stderr
    assert "partial" in stdout and "new=3" in stdout and "[extract=1]" in stdout, stdout
    assert wait_until_gone(child.pid, timeout=5) == []
