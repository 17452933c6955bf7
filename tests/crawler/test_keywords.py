from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.config.models import KeywordRule, Near
from crawler.keywords import Match, Matcher, RuleError
from storage.text import fold
from tests.storage.test_text import FOLDING

REAFFIRMED = "We reaffirmed our commitment to the long term Pakistan-US partnership"
DIALOGUE = "Both sides reviewed the progress in the ongoing Pakistan-US trade dialogue"
URDU_TERM = "پاکستان امریکہ"  # Persian/Urdu code points: ی ک ہ


def rule(name: str = "kw", **options: Any) -> KeywordRule:
    options.setdefault("terms", [name])
    return KeywordRule(name=name, **options)


def matcher(*rules: KeywordRule) -> Matcher:
    return Matcher.from_rules(rules)


def spans(found: list[Match], text: str) -> list[str]:
    return [text[m.start : m.end] for m in found]


# --- folding, shared with near-duplicate shingles ----------------------------------------------


@pytest.mark.parametrize(("text", "folded"), FOLDING)
def test_a_term_finds_its_folding_and_the_folding_finds_the_term(text: str, folded: str) -> None:
    assert matcher(rule("kw", terms=[folded])).matched_keywords("", text) == ["kw"]
    assert matcher(rule("kw", terms=[text])).matched_keywords("", folded) == ["kw"]


# --- literal terms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        (REAFFIRMED, "Pakistan-US"),
        (DIALOGUE, "Pakistan-US"),
        ("talks on Pakistan–US ties", "Pakistan–US"),
        ("talks on pakistan-us ties", "pakistan-us"),
        ("talks on Pakistan - US ties", "Pakistan - US"),
        ("talks on Pakistan —US ties", "Pakistan —US"),
        ("talks on Pakistan\n-\nUS ties", "Pakistan\n-\nUS"),
        ("talks on PAKISTAN‑US ties", "PAKISTAN‑US"),
        ("talks on ＰＡＫＩＳＴＡＮ－ＵＳ ties", "ＰＡＫＩＳＴＡＮ－ＵＳ"),
        ("the Pakistan-US-India triangle", "Pakistan-US"),
        ("ties (Pakistan-US) improved", "Pakistan-US"),
        ("Pakistan-US.", "Pakistan-US"),
        ("«Pakistan-US»", "Pakistan-US"),
        ("the Pakistan-USAID programme", None),
        ("the Pakistani-US community", None),
        ("the XPakistan-US code", None),
        ("Pakistan-US2", None),
        ("Pakistan and the US", None),
        ("PakistanUS", None),
    ],
)
def test_term_variants_and_boundaries(text: str, matched: str | None) -> None:
    found = matcher(rule("Pakistan-US")).match("", text)
    assert spans(found, text) == ([matched] if matched else [])


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("امریکہ اور پاکستان امریکہ تعلقات", URDU_TERM),
        ("اور پاکستان امريكه تعلقات", "پاکستان امريكه"),  # typed on an Arabic keyboard
        ("اور پاکِستان امریکَہ تعلقات", "پاکِستان امریکَہ"),  # with harakat
        ("اور پاکستان امری\u200cکہ تعلقات", "پاکستان امری\u200cکہ"),  # with ZWNJ
        ("اور پاکستان  امریکہ، تعلقات", "پاکستان  امریکہ"),  # Arabic comma is a boundary
        ("اور پاکستان امریکی تعلقات", None),  # امریکی is another word
        ("اور نیپاکستان امریکہ تعلقات", None),  # a letter of any script is a word character
    ],
)
def test_urdu_terms(text: str, matched: str | None) -> None:
    for term in (URDU_TERM, "پاكستان امريكه", "پاکِستان امریکہ"):
        found = matcher(rule("urdu", terms=[term])).match("", text)
        assert spans(found, text) == ([matched] if matched else []), term


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("the US and Pakistan", ["US"]),
        ("Pakistan-US ties", ["US"]),
        ("ＵＳ", ["ＵＳ"]),  # NFKC first, then the case check
        ("let us talk", []),
        ("the Us and them", []),
        ("USA", []),
    ],
)
def test_case_sensitive_term(text: str, matched: list[str]) -> None:
    us = rule("us", terms=["US"], case_sensitive_terms=["US"])
    assert spans(matcher(us).match("", text), text) == matched


def test_case_sensitivity_is_per_term() -> None:
    both = rule("us", terms=["US", "United States"], case_sensitive_terms=["US"])
    text = "the united states told us; the US agreed"
    assert spans(matcher(both).match("", text), text) == ["united states", "US"]


# --- conditions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "title", "text", "expected"),
    [
        # none vetoes, in either field
        ({"none": ["cricket"]}, "", "Pakistan-US talks", True),
        ({"none": ["cricket"]}, "", "Pakistan-US cricket series", False),
        ({"none": ["cricket"]}, "Cricket", "Pakistan-US talks", False),
        ({"none": ["USAID"]}, "", "Pakistan-US talks on Pakistan-USAID", False),
        # all: every term somewhere in the fields
        ({"all": ["trade", "dialogue"]}, "", DIALOGUE, True),
        ({"all": ["trade", "dialogue"]}, "Trade", "Pakistan-US dialogue", True),
        ({"all": ["trade", "tariff"]}, "", DIALOGUE, False),
        ({"all": ["trade"]}, "", "Pakistan-US trades", False),
        # near: within N words, either side
        ({"near": Near(terms=["dialogue"], within=2)}, "", DIALOGUE, True),
        ({"near": Near(terms=["dialogue"], within=1)}, "", DIALOGUE, False),
        ({"near": Near(terms=["ongoing"], within=1)}, "", DIALOGUE, True),
        ({"near": Near(terms=["Both sides"], within=7)}, "", DIALOGUE, True),
        ({"near": Near(terms=["Both sides"], within=6)}, "", DIALOGUE, False),
        ({"near": Near(terms=["partnership"], within=30)}, "partnership", DIALOGUE, False),
        # fields
        ({"fields": ["title"]}, "Pakistan-US talks", "", True),
        ({"fields": ["title"]}, "", "Pakistan-US talks", False),
        ({"fields": ["text"]}, "Pakistan-US talks", "", False),
        ({"fields": ["title"], "all": ["trade"]}, "Pakistan-US talks", "trade", False),
        ({"fields": ["title"], "none": ["cricket"]}, "Pakistan-US", "cricket", True),
    ],
)
def test_conditions(options: dict, title: str, text: str, expected: bool) -> None:
    found = matcher(rule("Pakistan-US", **options)).matched_keywords(title, text)
    assert found == (["Pakistan-US"] if expected else [])


def test_near_keeps_only_the_hits_near_a_near_term() -> None:
    text = f"{REAFFIRMED}. {DIALOGUE}"
    near = rule("Pakistan-US", near=Near(terms=["trade"], within=1))
    assert [m.start for m in matcher(near).match("", text)] == [text.rindex("Pakistan-US")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [("dawn", ["kw"]), ("tribune", ["kw"]), ("app", []), (None, [])],
)
def test_sources_restrict_a_rule(source: str | None, expected: list[str]) -> None:
    restricted = rule("kw", terms=["Pakistan-US"], sources=["dawn", "tribune"])
    assert matcher(restricted).matched_keywords("", REAFFIRMED, source=source) == expected


@pytest.mark.parametrize(
    ("pattern", "text", "matched"),
    [
        (r"pak(istan)?-u\.?s\.?", "the Pak-US talks", ["Pak-US"]),
        (r"Pak(istan)?-U\.?S\.?", "the pakistan–u.s. talks", ["pakistan–u.s."]),
        (r"\bpak-us\b", "the Pak - US talks", ["Pak - US"]),
        (r"\d+ percent", "up 12 percent", ["12 percent"]),
        (r"x*", "an empty match never counts", []),
        (r"امریکہ", "امريكه", ["امريكه"]),  # the folding applies to regexes too
    ],
)
def test_regex_terms(pattern: str, text: str, matched: list[str]) -> None:
    found = matcher(rule("rx", terms=[], regex=[pattern])).match("", text)
    assert spans(found, text) == matched


def test_a_regex_past_its_time_limit_finds_nothing_and_is_reported(caplog) -> None:
    slow = matcher(rule("slow", terms=[], regex=["(a|aa)+b"]), rule("us", terms=["Pakistan-US"]))
    timed_out: list[str] = []
    found = slow.match("a" * 60, "Pakistan-US talks", on_timeout=timed_out.append)
    assert [m.keyword for m in found] == ["us"]
    assert timed_out == ["slow"]
    assert "ran past its" in caplog.text


def test_regex_terms_obey_conditions() -> None:
    rx = rule("rx", terms=[], regex=[r"pak-us"], none=["cricket"])
    assert matcher(rx).matched_keywords("", "Pak-US talks") == ["rx"]
    assert matcher(rx).matched_keywords("", "Pak-US cricket") == []


# --- compile errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (KeywordRule.model_construct(name="bad", regex=["(unclosed"]), "does not compile"),
        (rule("bad", terms=["\u200c\u064e"]), "empty after normalisation"),
        (rule("bad", terms=["ok"], all=[" "]), "empty after normalisation"),
        (rule("bad", terms=["Pakistan-US"], none=["pakistan – us"]), "can never match"),
        (rule("bad", terms=["Pakistan-US"], none=["Pakistan"]), "can never match"),
        (rule("bad", terms=["a", "Pakistan-US"], none=["Pakistan-US"]), "can never match"),
        (rule("bad", terms=["x"], all=["trade"], none=["trade"]), "can never match"),
        (
            rule("bad", terms=["x"], near=Near(terms=["y"], within=30), none=["y"]),
            "can never match",
        ),
        (rule("bad", terms=["US"], case_sensitive_terms=["USA"]), "not terms of this rule"),
    ],
)
def test_rule_errors(bad: KeywordRule, message: str) -> None:
    with pytest.raises(RuleError, match=message) as caught:
        Matcher.from_rules([rule("fine"), bad])
    assert caught.value.rule == "bad"
    assert "'bad'" in str(caught.value)


@pytest.mark.parametrize(
    ("fine", "text"),
    [
        (rule("ok", terms=["Pakistan-US"], none=["Pakistan-USAID"]), "Pakistan-US"),
        (rule("ok", terms=["US"], none=["us"], case_sensitive_terms=["US", "us"]), "US"),
        (rule("ok", terms=["us"], none=["US"], case_sensitive_terms=["US"]), "us"),
        (rule("ok", terms=["x"], near=Near(terms=["y", "z"], within=30), none=["y"]), "x z"),
    ],
)
def test_rules_that_can_match_compile(fine: KeywordRule, text: str) -> None:
    assert Matcher.from_rules([fine]).matched_keywords("", text) == ["ok"]


# --- results -------------------------------------------------------------------------------------


def test_offsets_survive_length_changing_normalisation() -> None:
    text = (
        "ﬁrst … Pakistan\u00a0 — \n US? ½ بَتَ\u200cپ "
        "Ｐａｋｉｓｔａｎ－ＵＳ and   pakistan-us‍ at last. پاکِستان امري\u200cكه"
    )
    found = matcher(rule("Pakistan-US"), rule("urdu", terms=[URDU_TERM])).match("", text)
    assert spans(found, text) == [
        "Pakistan\u00a0 — \n US",
        "Ｐａｋｉｓｔａｎ－ＵＳ",
        "pakistan-us",
        "پاکِستان امري\u200cكه",
    ]


def test_title_matches_come_first_and_carry_their_field() -> None:
    found = matcher(rule("Pakistan-US"), rule("trade")).match("Pakistan-US trade", DIALOGUE)
    assert [(m.field, m.keyword) for m in found] == [
        ("title", "Pakistan-US"),
        ("title", "trade"),
        ("text", "Pakistan-US"),
        ("text", "trade"),
    ]
    assert [m.start for m in found] == [0, 12, 48, 60]


def test_every_hit_is_reported_once_per_place() -> None:
    both = rule("kw", terms=["Pakistan", "Pakistan-US", "US"])
    text = f"{REAFFIRMED}; Pakistan - US"
    first, second = text.index("Pakistan-US"), text.index("Pakistan - US")
    found = matcher(both).match("", text)
    assert [(m.start, m.end) for m in found] == [
        (first, first + 11),  # "Pakistan" at the same place is the shorter hit
        (first + 9, first + 11),
        (second, second + 13),
        (second + 11, second + 13),
    ]


def test_matched_keywords_are_sorted_and_unique() -> None:
    rules = [rule("zeta", terms=["trade"]), rule("alpha", terms=["Pakistan-US", "dialogue"])]
    assert matcher(*rules).matched_keywords("Pakistan-US", DIALOGUE) == ["alpha", "zeta"]


def test_no_rules_match_nothing() -> None:
    assert Matcher.from_rules([]).match("Pakistan-US", REAFFIRMED) == []


def test_snippet_is_cut_at_words_and_marked() -> None:
    before = "word " * 30
    after = " more" * 30
    text = f"{before}the\n\nPakistan-US   partnership{after}"
    (found,) = matcher(rule("Pakistan-US")).match("", text)
    assert found.snippet.startswith("…word ")
    assert found.snippet.endswith(" more…")
    assert "the Pakistan-US partnership" in found.snippet
    assert 100 <= len(found.snippet) <= 140
    (whole,) = matcher(rule("Pakistan-US")).match("", REAFFIRMED)
    assert whole.snippet == REAFFIRMED


NOISE = st.text(
    alphabet=st.sampled_from(list("ab  ي ك\u064e\u200c\u00a0\n\t-–…ﬁ½Ａ")),
    max_size=30,
)


@given(NOISE, st.sampled_from(["Pakistan-US", "PAKISTAN – US", "Ｐakistan\u2011ＵＳ"]), NOISE)
def test_offsets_point_at_the_original_hit(before: str, term: str, after: str) -> None:
    text = f"{before} {term} {after}"
    found = matcher(rule("Pakistan-US")).match("", text)
    assert any(text[m.start : m.end] == term for m in found)
    assert all(fold(text[m.start : m.end]) == "pakistan-us" for m in found)
