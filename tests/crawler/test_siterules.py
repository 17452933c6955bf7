"""Per-source extraction rules: one golden file per rule kind on saved pages.

tests/fixtures/rules/NAME.json gives a page of tests/fixtures/quality/, the `extract:` rules as
config.yaml writes them, and the fields the item must have; NAME.txt, where present, is the
exact text the rules must give (checked by hand once, then pinned).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.config.models import ExtractRules
from crawler.extract import BY_RULES, Extracted, NotAnArticle, extract_article
from crawler.siterules import DateRule, RuleError, block_text, css_xpath

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RULES = {
    path.stem: json.loads(path.read_text("utf-8")) for path in (FIXTURES / "rules").glob("*.json")
}


def page(name: str) -> tuple[str, str]:
    spec = json.loads((FIXTURES / "quality" / f"{name}.json").read_text("utf-8"))
    return (FIXTURES / "quality" / f"{name}.html").read_text("utf-8"), spec["url"]


def extract_with(name: str, rules: dict) -> Extracted:
    html, url = page(name)
    return extract_article(html, url, rules=ExtractRules(**rules).rules())


def test_every_rule_kind_has_a_golden() -> None:
    kinds = {key for golden in RULES.values() for key in golden["rules"]}
    assert kinds == {"body", "title", "date", "remove"}
    dates = [g["rules"]["date"] for g in RULES.values() if "date" in g["rules"]]
    assert any("@" in d for d in dates) and any(d.startswith("meta:") for d in dates)
    assert any("@" not in d and not d.startswith("meta:") for d in dates)


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_give_the_golden_item(name: str) -> None:
    golden = RULES[name]
    extracted = extract_with(golden["page"], golden["rules"])
    found = {
        "title": extracted.title,
        "published_at": extracted.published.isoformat() if extracted.published else None,
        "extracted_by": extracted.extracted_by,
    }
    assert {key: found[key] for key in golden["item"]} == golden["item"]
    text_file = FIXTURES / "rules" / f"{name}.txt"
    if text_file.exists():
        assert extracted.text + "\n" == text_file.read_text("utf-8")


def test_remove_cuts_before_the_text_is_taken() -> None:
    kept = extract_with("ministry-press-release", {"body": "div.entry-content"}).text
    cut = extract_with(
        "ministry-press-release",
        {"body": "div.entry-content", "remove": ["div.sharedaddy", "figure figcaption"]},
    ).text
    assert "Click to share on Twitter" in kept and "Click to share on Twitter" not in cut
    assert "receives the Deputy Foreign Minister" in kept
    assert "receives the Deputy Foreign Minister" not in cut
    assert cut.endswith("Islamabad\n4 August 2025")


def test_remove_applies_when_trafilatura_takes_the_text() -> None:
    text = extract_with("ministry-press-release", {"remove": ["div.entry-content p"]}).text
    assert "Trans-Afghan" not in text


def test_min_chars_is_the_sources_own_bar() -> None:
    with pytest.raises(NotAnArticle):
        extract_with("ministry-press-release", {"body": "div.entry-content", "min_chars": 5000})
    short = extract_with("commerce-table-layout", {"body": "td.content", "min_chars": 100})
    assert short.extracted_by == BY_RULES


@pytest.mark.parametrize(
    "selector", ["div[", "div >> p", "p:nth-child(", ":hover(", "   ", "a[href=']"]
)
def test_a_bad_selector_is_a_rule_error(selector: str) -> None:
    with pytest.raises(RuleError):
        css_xpath(selector)


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("meta:article:published_time", DateRule(meta="article:published_time")),
        ("time.entry-date@datetime", DateRule(selector="time.entry-date", attribute="datetime")),
        ("span.date", DateRule(selector="span.date")),
        ("a[href$='@x']@data-time", DateRule(selector="a[href$='@x']", attribute="data-time")),
    ],
)
def test_date_specs_parse(spec: str, rule: DateRule) -> None:
    assert DateRule.parse(spec) == rule


@pytest.mark.parametrize("spec", ["meta:", "time@", "time@1x", "div[@datetime"])
def test_bad_date_specs_are_rule_errors(spec: str) -> None:
    with pytest.raises(RuleError):
        DateRule.parse(spec)


def test_block_text_keeps_paragraphs_and_drops_scripts() -> None:
    from lxml import html

    tree = html.fromstring(
        "<div><p>One <b>bold</b>\n word.</p><script>var x</script><ul><li>a</li><li>b</li></ul>"
        "<!-- note -->tail<br>next</div>"
    )
    assert block_text(tree) == "One bold word.\na\nb\ntail\nnext"
