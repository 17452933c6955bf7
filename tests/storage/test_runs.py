"""Crawl runs in Core, on SQLite and PostgreSQL: recorded, finished, stale runs interrupted."""

from datetime import UTC, datetime

from storage.crawlstate import ensure_source
from storage.runs import (
    RunOutcome,
    end_running_run,
    end_running_runs,
    finish_run,
    interrupt_stale_runs,
    last_started,
    list_runs,
    record_runs,
    run_of_process,
    start_run,
    timed_out_last,
)


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


def test_the_run_of_a_killed_process_is_ended_with_one_error_of_its_kind(engine):
    tribune = ensure_source(engine, "tribune", "feed", "https://example.com/feed")
    run_id = start_run(engine, tribune, pid=4242)
    assert run_of_process(engine, "tribune", 4242).status == "running"
    ended = end_running_run(
        engine, 4242, status="failed", kind="timeout", error_text="killed after run_timeout (5s)"
    )
    assert ended == run_id
    run = run_of_process(engine, "tribune", 4242)
    assert (run.status, run.errors, run.error_kinds) == ("failed", 1, {"timeout": 1})
    assert run.finished_at is not None and run.error_text.startswith("killed after")
    assert end_running_run(engine, 4242, status="failed", error_text="again") is None
    assert run_of_process(engine, "mofa", 4242) is None


def test_a_source_whose_newest_finished_run_timed_out_is_named_until_one_ends_in_time(engine):
    hung = ensure_source(engine, "hung", "feed", "https://example.com/hung")
    fine = ensure_source(engine, "fine", "feed", "https://example.com/fine")
    for source in (hung, fine):
        start_run(engine, source, pid=77)
    start_run(engine, fine, pid=78)  # still running elsewhere: not a finished run
    closed = end_running_runs(
        engine, 77, status="failed", kind="timeout", error_text="killed after run_timeout"
    )
    assert closed == 2  # every run the killed child left running
    assert timed_out_last(engine, ["hung", "fine", "unknown"]) == {"hung", "fine"}
    finish_run(engine, start_run(engine, fine, pid=79), RunOutcome("ok"))
    assert timed_out_last(engine, ["hung", "fine"]) == {"hung"}  # fine's newest ended in time
    finish_run(engine, start_run(engine, hung, pid=80), RunOutcome("failed", errors=1))
    assert timed_out_last(engine, ["hung"]) == set()  # a failure, but not a hang
    assert timed_out_last(engine, []) == set()


def test_runs_settled_at_once_are_recorded_finished_in_one_go(engine):
    ids = {
        name: ensure_source(engine, name, "feed", f"https://{name}.example/feed") for name in "ab"
    }
    run_ids = record_runs(engine, ids, RunOutcome("ok", skipped=1), pid=7)
    assert sorted(run_ids) == ["a", "b"] and len(set(run_ids.values())) == 2
    for name, run_id in run_ids.items():
        run = run_of_process(engine, name, 7)
        assert run is not None and run.id == run_id
        assert (run.status, run.skipped, run.finished_at is not None) == ("ok", 1, True)
    assert record_runs(engine, {}, RunOutcome("ok")) == {}
