"""The problem detectors of `check --live`: evidence in, verdict and sentences out (the real
crawls are in tests/jobs/test_check.py)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from crawler.check import DETECTORS, Evidence, Finding, Sample, judge, trial_source
from crawler.config.models import Config
from crawler.discovery import Discovery
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
        extracted_by="rules",
        language_source="page",
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
    seen = Discovery(200, "rss")
    check = judge(Evidence(source(**FEED), outcome(), [sample(1)], discovery=seen))
    assert check.verdict == "ok" and check.problems == []
    row = check.row()
    assert row["mode"] == "feed" and row["url"] == "https://mofa.example/feed.xml"
    [row_sample] = row["samples"]
    assert row_sample["published_at"] == "2026-12-01T00:00:00+00:00"
    assert (row_sample["extracted_by"], row_sample["language_source"]) == ("rules", "page")
    assert row["discovery"] == {"status": 200, "format": "rss"}


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


def test_samples_taken_under_another_source_say_how_to_check_this_one():
    evidence = Evidence(source(**FEED), outcome(skip_kinds={"known": 3}), [])
    check = judge(evidence)
    assert check.verdict == "ok"
    assert check.problems == [
        "its 3 sampled articles were also listed by another checked source and sampled"
        " there; to see them under this one: newsmon check --live --source mofa"
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


SHELL = (
    '<html><head><script src="/list.js"></script></head><body><h1>Press releases</h1>'
    '<ul class="press-list"></ul><script>boot()</script></body></html>'
)
LISTING = {"listing": "https://mofa.example/press/"}


def test_a_script_built_listing_without_links_is_told_to_render_in_a_browser():
    evidence = Evidence(
        source(**LISTING),
        outcome(discovered=0, matched=0),
        [],
        discovery=Discovery(200, "html", SHELL),
    )
    check = judge(evidence)
    assert check.verdict == "no_articles"
    assert check.problems[-1] == (
        "the listing at https://mofa.example/press/ looks built by its scripts (14 characters"
        " of text, 2 scripts, 0 links): its links may only appear in a browser; try"
        " `render: browser`"
    )
    assert (check.status, check.format) == (200, "html")


def test_no_browser_is_suggested_when_one_renders_it_or_the_page_is_plain():
    shell = Discovery(200, "html", SHELL)
    rendered = Evidence(
        source(**LISTING, render="browser"), outcome(discovered=0, matched=0), [], discovery=shell
    )
    assert not any("render: browser" in p for p in judge(rendered).problems)
    plain = Discovery(200, "html", "<html><body>" + "<p>Text. </p>" * 100 + "</body></html>")
    evidence = Evidence(source(**LISTING), outcome(discovered=0, matched=0), [], discovery=plain)
    assert not any("render: browser" in p for p in judge(evidence).problems)
    # Enough links were found: the page is not judged at all.
    enough = Evidence(source(**LISTING), outcome(), [sample(1)], discovery=shell)
    assert judge(enough).problems == []
