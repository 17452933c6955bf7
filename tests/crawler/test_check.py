"""The problem detectors of `check --live`: evidence in, verdict and sentences out (the real
crawls are in tests/jobs/test_check.py)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from crawler.check import DETECTORS, Evidence, Finding, Sample, judge, trial_source
from crawler.config.models import Config
from storage.runs import RunOutcome

WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def source(**fields):
    config = Config.model_validate({"sources": [{"name": "mofa", **fields}]})
    return config.sources[0]


def sample(n: int, **changes) -> Sample:
    base = dict(
        url=f"https://mofa.example/press/{n}",
        title=f"Press release {n}",
        published_at=WHEN,
        date_source="page",
        author=None,
        text_chars=1200,
        language="en",
    )
    return Sample(**{**base, **changes})


def outcome(**fields) -> RunOutcome:
    return RunOutcome(**{"status": "ok", "discovered": 10, "matched": 3, **fields})


FEED = {"feed": "https://mofa.example/feed.xml"}


def test_samples_lacking_date_or_text_make_extraction_incomplete():
    evidence = Evidence(
        source(**FEED),
        outcome(),
        [sample(1), sample(2, published_at=None), sample(3, published_at=None, text_chars=300)],
    )
    check = judge(evidence)
    assert check.verdict == "extraction_incomplete"
    assert check.problems == [
        "2 of 3 samples have no published date (none in the page, the feed or the URL); "
        "1 of 3 samples have under 400 characters of text (a cookie wall or teaser?)"
    ]


def test_complete_samples_are_ok_and_the_row_carries_every_field():
    check = judge(Evidence(source(**FEED), outcome(), [sample(1)]))
    assert check.verdict == "ok" and check.problems == []
    row = check.row()
    assert row["mode"] == "feed" and row["url"] == "https://mofa.example/feed.xml"
    [row_sample] = row["samples"]
    assert row_sample["published_at"] == "2026-12-01T00:00:00+00:00"
    assert row_sample["extracted_by"] == "trafilatura"


def test_a_listing_whose_follow_matches_nothing_names_the_common_prefix():
    evidence = Evidence(
        source(listing="https://mofa.example/", follow="/news/"),
        outcome(discovered=143, matched=0),
        [],
        Counter({"/press-release/": 120, "/about/": 23}),
    )
    assert judge(evidence).problems == [
        "the follow pattern matched 0 of 143 links; the most common link prefix is /press-release/"
    ]


def test_a_failed_discovery_is_an_error_unless_it_was_refused():
    failed = outcome(status="failed", error_text="https://mofa.example/feed.xml: dns")
    check = judge(Evidence(source(**FEED), failed, []))
    assert check.verdict == "error"
    assert check.problems == ["the discovery URL failed: https://mofa.example/feed.xml: dns"]
    refused = outcome(status="failed", error_text="https://mofa.example/feed.xml: http_451")
    assert judge(Evidence(source(**FEED), refused, [])).verdict == "blocked"


def test_article_pages_refused_by_the_site_are_blocked():
    evidence = Evidence(source(**FEED), outcome(error_kinds={"http_403": 3}), [])
    check = judge(evidence)
    assert check.verdict == "blocked"
    assert check.problems == [
        "3 article pages could not be fetched: the site refuses them (HTTP 401/403/429)"
    ]


def test_a_new_detector_is_one_more_entry_in_the_list():
    def script_built(evidence: Evidence) -> Finding | None:
        return Finding("extraction_incomplete", "the page looks script-built; try render: browser")

    check = judge(Evidence(source(**FEED), outcome(), [sample(1)]), [*DETECTORS, script_built])
    assert check.verdict == "extraction_incomplete"
    assert check.problems == ["the page looks script-built; try render: browser"]


def test_the_trial_is_cut_to_one_listing_page_and_the_samples():
    trial = trial_source(source(listing="https://mofa.example/", pages=5), 2)
    assert trial.max_articles == 2 and trial.pages == 1
    assert trial_source(source(**FEED), 4).max_articles == 4
