"""Regular expressions from the config (keyword `regex:` rules, a listing's `follow`).

They run on text from the web, so they run on the `regex` module with a time limit: a pattern
that backtracks without end costs at most TIME_LIMIT, the caller counts and logs the timeout,
and the crawl goes on. `regex` also defuses the classic nested quantifier `(\\w+\\s?)+:` that
takes Python's `re` seconds per 20 characters; `nested_quantifier` finds such groups so that
`newsmon check` can warn about the ones it cannot (crawler/config/load.py).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import regex

TIME_LIMIT = 0.25  # seconds per search over one page's field or one URL
Pattern: TypeAlias = Any  # a regex.Pattern: the regex module ships no type information


def search(pattern: Pattern, text: str) -> bool:
    """Whether `pattern` occurs in `text`; TimeoutError past TIME_LIMIT."""
    return pattern.search(text, timeout=TIME_LIMIT) is not None


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Pattern:
    """The compiled pattern; ValueError with the compiler's reason if it does not compile."""
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as error:
        raise ValueError(str(error)) from None


def nested_quantifier(pattern: str) -> str | None:
    """The first repeated group that repeats something inside it, as written ("(\\w+\\s?)+"),
    or None. Such groups can backtrack exponentially on text that almost matches."""
    opened: list[tuple[int, bool]] = []  # (start, repeats inside) per open group
    repeats_inside = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":  # a character class: nothing in it is a quantifier
            index = _class_end(pattern, index)
        elif char == "(":
            opened.append((index, repeats_inside))
            repeats_inside = False
        elif char == ")" and opened:
            start, outer = opened.pop()
            quantifier = _quantifier_at(pattern, index + 1)
            if quantifier and repeats_inside:
                return pattern[start : index + 1 + len(quantifier)]
            repeats_inside = outer or repeats_inside or bool(quantifier)
        elif _quantifier_at(pattern, index) and char != "?":
            repeats_inside = True
        index += 1
    return None


def _quantifier_at(pattern: str, index: int) -> str:
    """The unbounded or many-times quantifier starting at `index` ("+", "*", "{2,}"), or ""."""
    rest = pattern[index:]
    if rest[:1] in ("+", "*"):
        return rest[:1]
    found = regex.match(r"\{(\d*),?(\d*)\}", rest)
    if found and (found.group(2) == "" and "," in found.group() or int(found.group(2) or 0) > 1):
        return found.group()
    return ""


def _class_end(pattern: str, start: int) -> int:
    index = start + 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":  # a leading ] is a literal
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index
