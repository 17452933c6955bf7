"""The search language renders to quoted FTS5 and tsquery text; nothing the user types is syntax."""

import pytest

from storage.search_syntax import SearchSyntaxError, parse, search_words, to_fts5, to_tsquery


@pytest.mark.parametrize(
    ("query", "fts5", "tsquery"),
    [
        ('"stable relationship"', '"stable relationship"', "('stable' <-> 'relationship')"),
        ("relat*", '"relat"*', "('relat':*)"),
        ("Pakistan-US", '"Pakistan-US"', "('pakistan' <-> 'us')"),
        ("a b OR c", '(("a" AND "b") OR "c")', "((('a') & ('b')) | ('c'))"),
        ("a NOT b c", '(("a" NOT "b") AND "c")', "((('a') & !('b')) & ('c'))"),
        ("title:x NEAR", '("title:x" AND "NEAR")', "(('title' <-> 'x') & ('near'))"),
        ("o'brien", '"o\'brien"', "('o' <-> 'brien')"),
    ],
)
def test_rendering(query, fts5, tsquery):
    tree = parse(query)
    assert to_fts5(tree) == fts5
    assert to_tsquery(tree) == tsquery


def test_lower_case_operators_are_words_and_not_terms_are_not_highlighted():
    assert to_fts5(parse("war and peace")) == '(("war" AND "and") AND "peace")'
    assert search_words(parse("rubio NOT cricket")) == ["rubio"]


@pytest.mark.parametrize("query", ["", "   ", "OR", "a OR", "(", ")", '"', "a (b", "*", "a NOT"])
def test_malformed(query):
    with pytest.raises(SearchSyntaxError):
        parse(query)


def test_a_search_is_bounded_in_terms_depth_and_length():
    parse(" ".join(f"w{n}" for n in range(100)))
    parse("(" * 20 + "rubio" + ")" * 20)
    with pytest.raises(SearchSyntaxError, match="101 terms; at most 100"):
        parse(" ".join(f"w{n}" for n in range(101)))
    with pytest.raises(SearchSyntaxError, match="nest more than 20 deep"):
        parse("(" * 21 + "rubio" + ")" * 21)
    with pytest.raises(SearchSyntaxError, match="at most 2000"):
        parse("x" * 2001)
