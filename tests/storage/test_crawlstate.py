"""Run bookkeeping in Core, on SQLite and PostgreSQL: sources, runs, stale runs, validators."""

from datetime import UTC, datetime

from sqlalchemy import text

from storage.crawlstate import (
    RunOutcome,
    Validators,
    ensure_source,
    finish_run,
    interrupt_stale_runs,
    last_started,
    start_run,
    validators_for,
)
from storage.incremental import save_validators
from storage.queries import list_runs


def test_runs_are_recorded(engine):
    source_id = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    run_id = start_run(engine, source_id, pid=123)
    [running] = list_runs(engine)
    assert running.status == "running" and running.finished_at is None
    finish_run(
        engine,
        run_id,
        RunOutcome("partial", pages=3, new_items=2, errors=1, error_kinds={"http_404": 1}),
    )
    [done] = list_runs(engine, source="tribune")
    assert (done.status, done.pages, done.error_kinds) == ("partial", 3, {"http_404": 1})
    assert done.finished_at is not None
    assert list_runs(engine, source="mofa") == []


def test_ensure_source_is_stable(engine):
    first = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    assert ensure_source(engine, "tribune", "feed", "https://example.com/new-feed") == first
    with engine.connect() as connection:
        assert (
            connection.execute(text("select url from sources")).scalar()
            == "https://example.com/new-feed"
        )


def test_stale_runs_of_the_named_sources_are_interrupted(engine):
    tribune = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    mofa = ensure_source(engine, "mofa", "listing", "https://example.org/press/")
    stale, other = start_run(engine, tribune, pid=1), start_run(engine, mofa, pid=2)
    done = start_run(engine, tribune, pid=3)
    finish_run(engine, done, RunOutcome("ok"))

    assert interrupt_stale_runs(engine, ["tribune"]) == 1
    statuses = {run.id: run.status for run in list_runs(engine)}
    assert statuses == {stale: "interrupted", other: "running", done: "ok"}
    assert interrupt_stale_runs(engine, []) == 0


def test_last_started_is_the_newest_run_per_source_in_utc(engine):
    tribune = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    ensure_source(engine, "idle", "feed", "https://example.com/idle")
    before = datetime.now(UTC)
    start_run(engine, tribune)
    newest = start_run(engine, tribune)
    started = last_started(engine)
    assert set(started) == {"tribune"}
    assert started["tribune"].tzinfo is not None and started["tribune"] >= before
    [run] = [run for run in list_runs(engine) if run.id == newest]
    assert started["tribune"] == run.started_at


def test_validators_read_back_by_url(engine):
    url = "https://example.com/feed"
    assert validators_for(engine, [url]) == {}
    save_validators(
        engine,
        [{"url": url, "etag": '"v1"', "last_modified": None, "body_hash": "ab", "status": 200}],
    )
    assert validators_for(engine, [url, "https://example.com/other"]) == {
        url: Validators('"v1"', None, "ab")
    }
