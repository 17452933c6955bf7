"""The health verdict behind `newsmon status`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.health import (
    BROKEN,
    DEGRADED,
    OK,
    SILENT,
    RunFacts,
    SourceHealth,
    judge_condition,
    verdict,
)

NOW = datetime(2025, 7, 23, 12, 0, tzinfo=UTC)


def facts(**changes) -> SourceHealth:
    base = dict(
        source="mofa",
        runs=5,
        last_started=NOW - timedelta(minutes=5),
        last_success=NOW - timedelta(minutes=5),
        last_failure=None,
        last_error=None,
        consecutive_failures=0,
        new_24h=2,
        new_7d=9,
        last_new_item=NOW - timedelta(hours=3),
        first_run=NOW - timedelta(days=30),
    )
    return SourceHealth(**{**base, **changes})


def test_a_source_is_healthy_until_it_fails_n_times_in_a_row():
    assert verdict(
        facts(consecutive_failures=2), max_failures=3, expect_new_within=None, now=NOW
    ) == (True, "ok (2 recent failure(s))")
    healthy, why = verdict(
        facts(consecutive_failures=3), max_failures=3, expect_new_within=None, now=NOW
    )
    assert not healthy and why == "failing: 3 failures in a row"


def test_a_source_without_new_items_for_longer_than_expected_is_stale():
    quiet = facts(last_new_item=NOW - timedelta(days=4))
    assert verdict(quiet, max_failures=3, expect_new_within=3 * 86400, now=NOW)[0] is False
    assert verdict(quiet, max_failures=3, expect_new_within=5 * 86400, now=NOW)[0] is True
    # Never a new item: counted from the first run.
    young = facts(last_new_item=None, first_run=NOW - timedelta(days=1))
    assert verdict(young, max_failures=3, expect_new_within=3 * 86400, now=NOW)[0] is True


def test_never_run_and_overdue_sources_are_not_healthy():
    assert verdict(facts(runs=0), max_failures=3, expect_new_within=None, now=NOW) == (
        False,
        "never run",
    )
    overdue = verdict(
        facts(),
        max_failures=3,
        expect_new_within=None,
        overdue_after=NOW - timedelta(seconds=1),
        now=NOW,
    )
    assert overdue[0] is False and overdue[1].startswith("overdue")


def test_a_source_that_never_once_succeeded_is_not_ok():
    fresh = facts(runs=1, last_success=None, last_failure=NOW, consecutive_failures=1)
    assert verdict(fresh, max_failures=3, expect_new_within=None, now=NOW) == (
        False,
        "never succeeded: 1 run(s), all failed",
    )


def run(hours_ago: float, matched: int | None = 5, pages: int = 5, new: int = 1, not_article=0):
    return RunFacts(NOW - timedelta(hours=hours_ago), pages, new, matched, not_article)


def judged(runs, complete=(), **options):
    newest_first = sorted(runs, key=lambda r: r.started_at, reverse=True)
    return judge_condition(newest_first, list(complete), now=NOW, **options)


def test_discovery_finding_nothing_k_runs_in_a_row_after_finding_links_is_broken():
    healthy = [run(h) for h in (10, 9, 8, 7)]
    zeros = [run(h, matched=0, pages=0, new=0) for h in (3, 2, 1)]
    assert judged(healthy + zeros[:2]).state == OK  # two runs are not yet K
    condition = judged(healthy + zeros)
    assert condition.state == BROKEN and condition.since == zeros[0].started_at
    assert (
        condition.why == "broken: discovery found no article links in the last 3 runs (usually 5)"
    )
    # Unchanged runs (nothing read) say nothing; a source that never found links is not broken.
    assert judged(healthy + [run(h, matched=None, pages=0, new=0) for h in (3, 2, 1)]).state == OK
    assert judged(zeros).state == OK


def test_a_jump_in_the_not_article_share_is_broken():
    normal = [run(h, not_article=0) for h in (10, 9, 8, 7)]
    sections = [run(h, pages=4, new=0, not_article=4) for h in (3, 2, 1)]
    condition = judged(normal + sections)
    assert condition.state == BROKEN and "100% of fetched pages were not articles" in condition.why
    assert condition.baseline.not_article_share == 0


def test_completeness_well_below_the_sources_own_normal_is_degraded():
    history = [run(h) for h in (10, 9, 8, 7)]
    older = [(NOW - timedelta(days=2, minutes=n), True) for n in range(30)]
    fine = [(NOW - timedelta(minutes=n), n % 5 != 0) for n in range(10)]  # 80%: within normal
    assert judged(history, fine + older).state == OK
    walled = [(NOW - timedelta(minutes=n), n % 2 == 0) for n in range(10)]  # 50%
    condition = judged(history, walled + older)
    assert condition.state == DEGRADED and condition.baseline.completeness == 1
    assert "50% of the last 10 items" in condition.why


def test_silence_is_learned_from_the_usual_gap_and_expect_new_within_overrides_it():
    daily = [run(24 * d + 30) for d in range(6)]  # a new item a day; the last 30 h ago
    assert judged(daily).state == OK
    quiet = [run(24 * d + 24 * 5) for d in range(6)]  # the last new item 5 days ago
    assert judged(quiet + [run(1, new=0)]).state == SILENT
    assert judged(daily, expect_new_within=6 * 3600).state == SILENT
    assert judged(quiet, expect_new_within=10 * 86400).state == OK
