"""User regexes: compiled by the regex module, searched under a time limit, checked for
nested quantifiers."""

import time

import pytest

from crawler.config.load import pattern_warnings
from crawler.config.models import Config
from crawler.userregex import TIME_LIMIT, compile_pattern, nested_quantifier, search


@pytest.mark.parametrize(
    ("pattern", "group"),
    [
        (r"(\w+\s?)+:", r"(\w+\s?)+"),
        (r"^(a+)+$", "(a+)+"),
        (r"(?:x*y)*z", "(?:x*y)*"),
        (r"((a+)b){2,}", "((a+)b){2,}"),
        (r"(a|aa)+b", None),  # overlapping alternatives: slow too, but not this shape
        (r"\bPak(istan)?-US\b", None),
        (r"[(+)]+", None),
        (r"\(a+\)+", None),
        (r"(ab)+", None),
        (r"(a+){3}", None),
    ],
)
def test_nested_quantifiers_are_found(pattern, group):
    assert nested_quantifier(pattern) == group


def test_a_runaway_search_stops_at_the_time_limit():
    pattern = compile_pattern("(a|aa)+b")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        search(pattern, "a" * 60)
    assert time.monotonic() - started < TIME_LIMIT * 4
    assert search(compile_pattern(r"(\w+\s?)+:"), "a" * 60 + "!") is False  # regex defuses it


def test_a_bad_pattern_says_why():
    with pytest.raises(ValueError, match="missing"):
        compile_pattern("(unclosed")


def test_check_warns_about_nested_quantifiers():
    config = Config.model_validate(
        {
            "sources": [
                {"name": "a", "listing": "http://a.example/news/", "follow": "(/[a-z]+)+/"}
            ],
            "keywords": [{"name": "k", "regex": [r"(\w+\s?)+:", "plain"]}],
        }
    )
    warnings = pattern_warnings(config)
    assert len(warnings) == 2
    assert "keyword k: regex" in warnings[0] and r"(\w+\s?)+" in warnings[0]
    assert "source a: follow" in warnings[1]
