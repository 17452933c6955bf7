"""Nothing lost whatever ends a walk early: kills, a max_articles cut, a 5xx page, a failed batch.

Each test serves a local news site (tests/jobs/newssite.py), interrupts a real `newsmon crawl`,
then runs clean crawls until one stores nothing new. Every article page the site serves must
then be stored exactly once, within two clean runs (or, for a max_articles cut, the runs the
cut needs).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.child import start_newsmon
from tests.jobs.helpers import newsmon, write_config
from tests.jobs.newssite import MODES, Layout, NewsSite, listing_path
from tests.localsite import LocalSite
from tests.processes import kill_session

pytestmark = pytest.mark.slow


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as site:
        yield site


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # no schema yet
        return []


def stored_paths(db: Path) -> list[str]:
    return [url.split("/", 3)[-1] for (url,) in query(db, "select url from items")]


def assert_stored_once(db: Path, news: NewsSite, modes=None) -> None:
    stored = stored_paths(db)
    expected = [p.lstrip("/") for p in (news.paths(modes) if modes else news.paths())]
    assert len(stored) == len(set(stored)), "duplicates stored"
    missing = sorted(set(expected) - set(stored))
    assert not missing, f"{len(missing)} of {len(expected)} never stored: {missing[:5]}…"


def last_runs(db: Path) -> list[tuple]:
    """(source, status, new_items, errors) of each source's newest run."""
    return query(
        db,
        "select s.name, r.status, r.new_items, r.errors from crawl_runs r join sources s"
        " on s.id = r.source_id where r.id in (select max(id) from crawl_runs group by source_id)"
        " order by s.name",
    )


def clean_runs_until_caught_up(config: Path, db: Path, limit: int = 4) -> int:
    """Crawl until a run stores nothing new; how many runs stored something."""
    for number in range(limit):
        before = len(stored_paths(db))
        result = newsmon(config, "crawl")
        assert result.returncode == 0, result.stderr
        if len(stored_paths(db)) == before:
            return number
    raise AssertionError(f"still storing new items after {limit} clean runs")


def status_rows(config: Path) -> list[dict]:
    result = newsmon(config, "status", "--format", "json")
    return json.loads(result.stdout)


def wait_until(condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def kill_group(child, signum: int = signal.SIGKILL) -> None:  # type: ignore[no-untyped-def]
    os.killpg(child.pid, signum)
    child.communicate(timeout=60)


def test_a_first_listing_crawl_killed_after_page_one_is_stored_loses_nothing(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=4, per_page=50))
    news.hanging.add(listing_path(2))  # page 1's 50 articles are stored, then the kill
    config = write_config(tmp_path, site, news.sources(["listing"]))
    db = tmp_path / "newsmon.db"
    child = start_newsmon(config, "crawl")
    wait_until(lambda: len(stored_paths(db)) >= 50)
    kill_group(child)
    news.release()
    news.hanging.clear()

    assert clean_runs_until_caught_up(config, db) == 1
    assert_stored_once(db, news, ["listing"])


def test_a_5xx_middle_listing_page_is_walked_past_on_the_next_run(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=4, per_page=5))
    news.failures[listing_path(2)] = 2  # the first try and its one retry
    config = write_config(tmp_path, site, news.sources(["listing"]))
    db = tmp_path / "newsmon.db"
    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr
    assert last_runs(db) == [("press", "partial", 5, 1)]
    [row] = status_rows(config)
    # Page 1 walking; page 2 failed before it could be parsed.
    assert (row["caught_up"], row["walk"]) == (False, "catching up (0/1)")
    assert row["catching_up_since"] is not None

    assert clean_runs_until_caught_up(config, db) == 1
    assert_stored_once(db, news, ["listing"])
    [row] = status_rows(config)
    assert (row["caught_up"], row["walk"]) == (True, "caught up")


@pytest.mark.parametrize("mode", ["feed", "sitemap", "listing"])
def test_a_max_articles_cut_carries_on_next_run_until_caught_up(tmp_path, site, mode):
    news = NewsSite(
        site, Layout(feed=20, sitemap_children=4, per_sitemap=5, listing_pages=4, per_page=5)
    )
    config = write_config(tmp_path, site, news.sources([mode], extra="    max_articles: 7\n"))
    db = tmp_path / "newsmon.db"
    counts = []
    for _ in range(4):
        result = newsmon(config, "crawl")
        assert result.returncode == 0, result.stderr
        counts.append(len(stored_paths(db)))
    assert counts == [7, 14, 20, 20]
    assert_stored_once(db, news, [mode])


@pytest.mark.parametrize(
    ("variable", "mode", "source"),
    [
        ("NEWSMON_TEST_FAILING_PAGE", "sitemap", "archive"),
        ("NEWSMON_TEST_FAILING_FLAG", "feed", "wire"),
    ],
    ids=["extraction", "keyword stage"],
)
def test_a_page_a_pipeline_stage_failed_on_is_fetched_again_next_run(
    tmp_path, site, variable, mode, source
):
    news = NewsSite(site, Layout(feed=10, sitemap_children=2, per_sitemap=5))
    failing = news.sections[mode][3]
    config = write_config(tmp_path, site, news.sources([mode]))
    db = tmp_path / "newsmon.db"
    child = start_newsmon(
        config, "crawl", env={variable: failing}, hook="tests.jobs.pipeline_faults"
    )
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert last_runs(db) == [(source, "partial", 9, 1)]  # the run says it lost one

    assert clean_runs_until_caught_up(config, db) == 1
    assert site.hits(failing) == 2
    assert_stored_once(db, news, [mode])


# --- kills at random points --------------------------------------------------------------------

PROPERTY_LAYOUT = Layout(feed=40, sitemap_children=3, per_sitemap=15, listing_pages=5, per_page=10)
SCENARIOS = [("feed",), ("sitemap",), ("listing",), MODES]


def killed_first_crawls(config, db, rng: random.Random, kills: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Start first crawls and kill each at a random moment with SIGKILL or SIGTERM."""
    seen = []
    for _ in range(kills):
        signum = rng.choice([signal.SIGKILL, signal.SIGTERM])
        delay = rng.uniform(0.5, 4.0)  # start-up, discovery, fetching, storing
        child = start_newsmon(config, "crawl")
        try:
            try:
                child.wait(delay)
            except Exception:  # noqa: BLE001 - still running: kill it now
                os.killpg(child.pid, signum)
            child.communicate(timeout=60)
        finally:
            kill_session(child.pid)
        seen.append(f"{signal.Signals(signum).name}@{delay:.1f}s:{len(stored_paths(db))}")
    return seen


def check_kills(tmp_path, site, modes, seed: int, kills: int = 2) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    news = NewsSite(site, PROPERTY_LAYOUT, seed=seed)
    config = write_config(tmp_path, site, news.sources(modes))
    db = tmp_path / "newsmon.db"
    history = killed_first_crawls(config, db, rng, kills)
    storing_runs = clean_runs_until_caught_up(config, db)
    assert storing_runs <= 1, f"seed {seed}: {history}: caught up only after {storing_runs} runs"
    assert_stored_once(db, news, modes)


@pytest.mark.parametrize("modes", SCENARIOS, ids="+".join)
def test_first_crawls_killed_at_random_points_lose_nothing(tmp_path, site, modes):
    check_kills(tmp_path, site, modes, seed=13)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(1, 7))
@pytest.mark.parametrize("modes", SCENARIOS, ids="+".join)
def test_first_crawls_killed_at_random_points_lose_nothing_over_many_seeds(
    tmp_path, site, modes, seed
):
    check_kills(tmp_path, site, modes, seed, kills=3)


def test_items_the_store_refused_on_a_middle_listing_page_are_stored_next_run(tmp_path, site):
    news = NewsSite(site, Layout(listing_pages=4, per_page=5))
    refused = [site.url(path) for path in news.sections["listing"][5:10]]  # all of page 2
    config = write_config(tmp_path, site, news.sources(["listing"]))
    db = tmp_path / "newsmon.db"
    assert newsmon(config, "db", "upgrade").returncode == 0
    with sqlite3.connect(db) as connection:
        urls = ", ".join(f"'{url}'" for url in refused)
        connection.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.url IN ({urls})"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr
    assert last_runs(db) == [("press", "partial", 15, 5)]
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER refuse")

    assert clean_runs_until_caught_up(config, db) == 1
    assert_stored_once(db, news, ["listing"])
