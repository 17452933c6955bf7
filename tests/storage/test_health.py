"""The health verdict behind `newsmon status`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.health import SourceHealth, verdict

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
