"""What a worker makes of a page (crawler/worker.py): the record built for the store, every text
field storable wherever it came from, and flagged with the run's rules inside the worker."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from crawler.extract import Extracted
from crawler.items import FetchedPage, Hints
from crawler.keywords import Matcher
from crawler.worker import PackedRules, article_record, content_hash, install_rules, process_page
from storage.text import storable
from tests.crawler.test_keywords import rule
from tests.jobs.newssite import prose, simple_article

TEXT = "Pakistan and the United States\u0000 agreed.\x07\n\tNew\rline \ud83d kept apart."


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\ud800", "\ufffd"),
        ("a\udfffb", "a\ufffdb"),
        ("NUL\u0000byte", "NULbyte"),
        ("bell\x07 escape\x1b[31m del\x7f c1\x85", "bell escape[31m del c1"),
        ("tab\tnewline\ncr\r", "tab\tnewline\ncr\r"),
        ("Urdu پاکستان and emoji \U0001f600", "Urdu پاکستان and emoji \U0001f600"),
    ],
)
def test_storable_replaces_surrogates_and_drops_control_characters(raw, clean):
    assert storable(raw) == clean
    storable(raw).encode("utf-8")  # encodable, as both databases need


def test_every_text_field_of_the_record_is_storable_hints_included():
    page = FetchedPage(
        source="wire",
        url="https://example.com/a",
        html="<html></html>",
        hints=Hints(title="Feed \ud800title\u0000", author="\u0000", published=None),
    )
    extracted = Extracted(
        text=TEXT,
        title=None,
        author=None,
        published=datetime(2025, 7, 25, tzinfo=UTC),
        language="en\x00",
        canonical_url=None,
        site_name="Dawn\x1f",
    )
    record = article_record(page, extracted)
    assert record.text == "Pakistan and the United States agreed.\n\tNew\rline \ufffd kept apart."
    assert record.content_hash == content_hash(record.text)
    assert record.title == "Feed \ufffdtitle"
    assert record.author is None  # nothing left of it
    assert (record.language, record.site_name) == ("en", "Dawn")


def page(term: str = "Pakistan-US") -> FetchedPage:
    paragraphs = prose(random.Random(7), 1)
    paragraphs[2] += f" Both sides reaffirmed the long-term {term} partnership."
    html = simple_article("Talks in Washington", 1, random.Random(7)).replace(
        "".join(f"<p>{p}</p>" for p in prose(random.Random(7), 1)),
        "".join(f"<p>{p}</p>" for p in paragraphs),
    )
    return FetchedPage("wire", "https://example.com/a", html)


def test_a_worker_flags_the_record_with_the_rules_it_was_started_with():
    rules = PackedRules.of(Matcher.from_rules([rule("pk-us", terms=["Pakistan-US"])]))
    install_rules(rules)
    processed = process_page(page(), rules.key)
    matches = processed.record.matches
    assert [m.keyword for m in matches] == ["pk-us"]
    first = matches[0]
    assert processed.record.text[first.start : first.end] == "Pakistan-US"
    assert "Pakistan-US" in first.snippet
    assert processed.regex_timeouts == ()
    assert processed.record.signature  # signed there too


def test_a_worker_refuses_a_page_meant_for_other_rules():
    install_rules(PackedRules.of(Matcher.from_rules([rule("pk-us", terms=["Pakistan-US"])])))
    other = PackedRules.of(Matcher.from_rules([rule("other", terms=["Washington"])]))
    with pytest.raises(RuntimeError, match="other keyword rules"):
        process_page(page(), other.key)


def test_a_warm_process_extracts_a_small_batch_itself_and_starts_no_pool():
    from crawler import pool

    matcher = Matcher.from_rules([rule("pk-us", terms=["Pakistan-US"])])
    pool.extract_inline(2)
    try:
        for _ in range(3):  # three small discoveries: all inline
            pool.start_extraction_pool(matcher, pages=2)
            futures = [pool.submit_page(page(), matcher) for _ in range(2)]
            assert all(future.done() for future in futures)  # done on this thread
        assert [m.keyword for m in futures[0].result().record.matches] == ["pk-us"]
        assert pool._pool is None  # noqa: SLF001 - no process was started
        pool.start_extraction_pool(matcher, pages=3)  # a large one: the pool takes over
        pooled = pool.submit_page(page(), matcher).result(timeout=60)
        assert pool._pool is not None  # noqa: SLF001
        assert [m.keyword for m in pooled.record.matches] == ["pk-us"]
    finally:
        pool.extract_inline(0)
        pool.shutdown_pool()
