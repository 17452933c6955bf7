"""Source alerts over a sequence of runs: each change of condition announced once, through
Apprise to a JSON webhook on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawler.config.load import load_config
from jobs.source_alerts import deliver_source_alerts, note_source_health
from storage.crawlstate import ensure_source
from storage.runs import RunOutcome, finish_run, start_run
from tests.localsite import LocalSite, RecordedRequest, Response
from tests.services import newsmon_engine, rows


class Receiver:
    def __init__(self, site: LocalSite) -> None:
        self.url = site.base_url.replace("http://", "json://") + "/hook"
        self.bodies: list[dict] = []
        self.status = 200
        site.route("/hook", self.receive)

    def receive(self, request: RecordedRequest) -> Response:
        self.bodies.append(json.loads(request.body))
        return Response(b"{}", self.status)


@pytest.fixture
def world(tmp_path):
    with LocalSite() as hooks:
        receiver = Receiver(hooks)
        path = tmp_path / "config.yaml"
        path.write_text(
            f"database: sqlite:///{tmp_path / 'newsmon.db'}\n"
            "sources:\n  - name: mofa\n    listing: https://mofa.example/press/\n"
            "alerts:\n"
            f"  - name: ops\n    url: {receiver.url}\n"
            "    on: [source_broken, source_degraded, source_silent, source_recovered]\n"
            f"  - name: desk\n    url: {receiver.url}\n"  # flagged items only: no source alerts
        )
        config = load_config(path)
        engine = newsmon_engine(config.database)
        yield config, engine, receiver
        engine.dispose()


def crawl(config, engine, matched: int) -> None:
    """One recorded run of mofa whose discovery found `matched` article links, then what the
    crawl does after it: judge, owe, deliver."""
    source_id = ensure_source(engine, "mofa", "listing", "https://mofa.example/press/")
    run_id = start_run(engine, source_id)
    outcome = RunOutcome("ok", pages=matched, new_items=matched, discovered=9, matched=matched)
    finish_run(engine, run_id, outcome)
    note_source_health(config, engine, ["mofa"])
    deliver_source_alerts(config, engine)


def test_healthy_broken_recovered_each_change_is_announced_once(world):
    config, engine, receiver = world
    for _ in range(4):
        crawl(config, engine, matched=5)
    assert receiver.bodies == []  # first judged ok: nothing to announce
    for _ in range(5):  # broken from the third run without links on; announced once
        crawl(config, engine, matched=0)
    crawl(config, engine, matched=5)
    crawl(config, engine, matched=5)

    titles = [body["title"] for body in receiver.bodies]
    assert titles == ["newsmon: source mofa is broken", "newsmon: source mofa recovered"]
    broken, recovered = (body["message"] for body in receiver.bodies)
    assert "mofa is broken since" in broken and "(was ok)" in broken
    assert "discovery found no article links in the last 3 runs (usually 5)" in broken
    assert "Last run: ok, pages=0 new=0" in broken
    # What check --live would say of that run, from its record: no request made for it.
    assert "Check: the follow pattern matched 0 of 9 links" in broken
    assert "Check:" not in recovered
    assert "newsmon check --live --source mofa" in broken
    assert "mofa is ok again; it was broken since" in recovered
    ids = [body["delivery_id"] for body in receiver.bodies]
    assert len(set(ids)) == 2 and all(i.startswith("newsmon-source-") for i in ids)
    assert rows(engine.url.database, "select alert, event, status from source_alerts") == [
        ("ops", "source_broken", "sent"),
        ("ops", "source_recovered", "sent"),
    ]


def test_a_failed_source_alert_is_retried_with_the_same_delivery_id(world):
    config, engine, receiver = world
    for _ in range(4):
        crawl(config, engine, matched=5)
    receiver.status = 500
    for _ in range(3):
        crawl(config, engine, matched=0)
    assert rows(engine.url.database, "select status, attempts from source_alerts") == [
        ("failed", 1)
    ]
    receiver.status = 200
    [(retry_at,)] = rows(engine.url.database, "select next_attempt_at from source_alerts")
    deliver_source_alerts(config, engine, now=datetime.fromisoformat(retry_at).replace(tzinfo=UTC))
    first, second = receiver.bodies
    assert first["delivery_id"] == second["delivery_id"]
    assert rows(engine.url.database, "select status from source_alerts") == [("sent",)]


def test_discovery_failing_after_it_found_links_is_broken_too(world):
    config, engine, receiver = world
    for _ in range(4):
        crawl(config, engine, matched=5)
    source_id = ensure_source(engine, "mofa", "listing", "https://mofa.example/press/")
    for _ in range(3):  # the listing moved: 404
        run_id = start_run(engine, source_id)
        failed = RunOutcome(
            "failed", errors=1, error_kinds={"http_404": 1}, error_text="x: http_404"
        )
        finish_run(engine, run_id, failed)
        note_source_health(config, engine, ["mofa"])
        deliver_source_alerts(config, engine)
    [body] = receiver.bodies
    assert body["title"] == "newsmon: source mofa is broken"
    assert "Last error: x: http_404" in body["message"]
