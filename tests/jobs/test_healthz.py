"""/healthz and /metrics from a DaemonStatus snapshot: no daemon needed (jobs/healthz.py)."""

from datetime import UTC, datetime

from jobs.healthz import DaemonStatus, SourceStatus, health_document, metrics_text

STARTED = datetime(2025, 7, 25, 12, 0, tzinfo=UTC)


def snapshot(*, stopping: bool = False) -> DaemonStatus:
    return DaemonStatus(
        started_at=STARTED,
        stopping=stopping,
        runs_total={("mofa", "ok"): 3, ("mofa", "failed"): 1, ("dawn", "ok"): 2},
        sources=(
            SourceStatus("mofa", True, datetime(2025, 7, 25, 13, 0, tzinfo=UTC), "ok", 1.23456),
            SourceStatus("dawn", False, None, None, None),
        ),
    )


def test_the_health_document_reports_each_source_and_the_run_count():
    document = health_document(snapshot())
    assert document["status"] == "ok" and document["runs"] == 6
    assert document["started_at"] == "2025-07-25T12:00:00+00:00" and document["uptime_s"] > 0
    assert document["sources"] == {
        "mofa": {
            "running": True,
            "next_run": "2025-07-25T13:00:00+00:00",
            "last_status": "ok",
            "last_duration_s": 1.23,
        },
        "dawn": {"running": False, "next_run": None, "last_status": None, "last_duration_s": None},
    }
    assert health_document(snapshot(stopping=True))["status"] == "stopping"


def test_metrics_count_runs_by_source_and_outcome_and_say_what_runs():
    text = metrics_text(snapshot())
    assert text.endswith("\n")
    lines = text.splitlines()
    assert 'newsmon_runs_total{source="dawn",status="ok"} 2' in lines
    assert 'newsmon_runs_total{source="mofa",status="failed"} 1' in lines
    assert 'newsmon_source_running{source="mofa"} 1' in lines
    assert 'newsmon_source_running{source="dawn"} 0' in lines
    assert any(line.startswith("newsmon_daemon_max_rss_bytes ") for line in lines)


def test_polls_are_counted_by_outcome_every_outcome_named():
    status = DaemonStatus(
        started_at=STARTED,
        stopping=False,
        runs_total={},
        sources=(),
        polls_total={"unchanged": 40, "changed": 2},
    )
    assert health_document(status)["polls"] == {"unchanged": 40, "changed": 2, "failed": 0}
    lines = metrics_text(status).splitlines()
    assert 'newsmon_polls_total{outcome="unchanged"} 40' in lines
    assert 'newsmon_polls_total{outcome="changed"} 2' in lines
    assert 'newsmon_polls_total{outcome="failed"} 0' in lines
