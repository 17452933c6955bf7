"""Keyword matching: rules compiled once into an Aho-Corasick prefilter plus per-hit checks.

Text and terms are folded the same way, by storage/text.py (NFKC, case, dash variants, spaces
around a dash, whitespace runs, Arabic-script variants), as near-duplicate shingles are; a hit
must sit on word boundaries, and every hit is reported with offsets into the original, unfolded
string and with the one snippet of storage/text.py.
"""

from __future__ import annotations

import logging
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import ahocorasick

from crawler.userregex import TIME_LIMIT, Pattern, compile_pattern
from storage.text import WORD, Folded, fold, fold_mapped, fold_pattern, snippet

logger = logging.getLogger(__name__)

FIELDS = ("title", "text")


class NearSpec(Protocol):
    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def within(self) -> int: ...


class RuleSpec(Protocol):
    """A keyword rule as plain data (a crawler.config.models.KeywordRule). This module
    compiles rules and never imports the config layer; the loader calls it to check them."""

    @property
    def name(self) -> str: ...
    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def regex(self) -> Sequence[str]: ...
    @property
    def all(self) -> Sequence[str]: ...
    @property
    def none(self) -> Sequence[str]: ...
    @property
    def near(self) -> NearSpec | None: ...
    @property
    def fields(self) -> Sequence[str]: ...
    @property
    def case_sensitive_terms(self) -> Sequence[str]: ...
    @property
    def sources(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Match:
    keyword: str
    field: str
    start: int  # offsets into the original field string
    end: int
    snippet: str


class RuleError(ValueError):
    """A keyword rule that cannot be compiled or could never match."""

    def __init__(self, rule: str, problem: str) -> None:
        self.rule = rule
        super().__init__(f"keyword {rule!r}: {problem}")


# --- Word boundaries ---------------------------------------------------------------------------


def _is_word_char(char: str) -> bool:
    """Letters, digits and combining marks of any script."""
    return char.isalnum() or (not char.isascii() and unicodedata.category(char)[0] == "M")


def _occurs(needle: str, haystack: str) -> bool:
    """Whether `needle` occurs in `haystack` at word boundaries (as a hit in text would)."""
    start = haystack.find(needle)
    while start != -1:
        stop = start + len(needle)
        left_ok = start == 0 or not (
            _is_word_char(needle[0]) and _is_word_char(haystack[start - 1])
        )
        right_ok = stop == len(haystack) or not (
            _is_word_char(needle[-1]) and _is_word_char(haystack[stop])
        )
        if left_ok and right_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


# --- Compiled rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    key: str  # folded and casefolded: what the automaton finds
    cased: str | None  # folded with case kept, for a case-sensitive term

    def covers(self, other: _Term) -> bool:
        """Whether every hit of `other` is certain to contain a hit of this term."""
        if self.cased is None:
            return _occurs(self.key, other.key)
        return other.cased is not None and _occurs(self.cased, other.cased)

    def __str__(self) -> str:
        return self.cased or self.key


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    fields: tuple[str, ...]
    sources: frozenset[str] | None
    terms: tuple[int, ...]
    regexes: tuple[Pattern, ...]
    all: tuple[int, ...]
    none: tuple[int, ...]
    near: tuple[int, ...]
    within: int


@dataclass(slots=True)
class _Scan:
    """One field folded and searched: every confirmed hit per term id, in folded offsets."""

    folded: Folded
    hits: dict[int, list[tuple[int, int]]]
    _word_starts: list[int] | None = None

    def word_starts(self) -> list[int]:
        if self._word_starts is None:
            self._word_starts = [word.start() for word in WORD.finditer(self.folded.text)]
        return self._word_starts

    def any_hit(self, term_ids: Sequence[int]) -> bool:
        return any(term_id in self.hits for term_id in term_ids)


class Matcher:
    """Keyword rules compiled once; `match` runs them all over one item."""

    def __init__(self, rules: list[_Rule], terms: list[_Term]) -> None:
        self._rules = rules
        self._by_term: dict[int, list[int]] = {}
        self._regex_rules: list[int] = []
        for index, rule in enumerate(rules):
            for term_id in dict.fromkeys(rule.terms):
                self._by_term.setdefault(term_id, []).append(index)
            if rule.regexes:
                self._regex_rules.append(index)
        variants: dict[str, list[tuple[int, str | None]]] = {}
        for term_id, term in enumerate(terms):
            variants.setdefault(term.key, []).append((term_id, term.cased))
        self._automaton: ahocorasick.Automaton | None = None
        if variants:
            self._automaton = ahocorasick.Automaton()
            for key, found in variants.items():
                boundaries = (len(key), _is_word_char(key[0]), _is_word_char(key[-1]))
                self._automaton.add_word(key, (*boundaries, tuple(found)))
            self._automaton.make_automaton()

    @classmethod
    def from_rules(cls, rules: Sequence[RuleSpec]) -> Matcher:
        """Compile `rules`; RuleError names a rule that cannot compile or could never match."""
        term_ids: dict[_Term, int] = {}
        compiled = [_compile_rule(rule, term_ids) for rule in rules]
        logger.debug("compiled %s keyword rules, %s distinct terms", len(compiled), len(term_ids))
        return cls(compiled, list(term_ids))

    def match(
        self,
        title: str,
        text: str,
        source: str | None = None,
        on_timeout: Callable[[str], None] | None = None,
    ) -> list[Match]:
        """Every qualifying hit, title first, each with original offsets and a snippet.

        A regex that runs past its time limit is logged, reported to `on_timeout` with its
        rule's name, and yields no hits in that field.
        """
        originals = {"title": title, "text": text}
        longest: dict[tuple[str, str, int], Match] = {}
        for rule, field_name, scan, start, end in self._hits(title, text, source, on_timeout):
            first, last = scan.folded.start(start), scan.folded.end(end)
            key = (rule.name, field_name, first)  # two terms may hit at one place: keep one
            if key not in longest or longest[key].end < last:
                context = snippet(originals[field_name], first, last)
                longest[key] = Match(rule.name, field_name, first, last, context)
        order = {name: index for index, name in enumerate(FIELDS)}
        return sorted(longest.values(), key=lambda m: (order[m.field], m.start, m.keyword))

    def matched_keywords(self, title: str, text: str, source: str | None = None) -> list[str]:
        """The sorted names of the rules that match."""
        return sorted({rule.name for rule, *_ in self._hits(title, text, source, None)})

    def _hits(
        self,
        title: str,
        text: str,
        source: str | None,
        on_timeout: Callable[[str], None] | None,
    ) -> list[tuple[_Rule, str, _Scan, int, int]]:
        if not self._rules:
            return []
        scans = {"title": self._scan(title), "text": self._scan(text)}
        candidates = set(self._regex_rules)
        for scan in scans.values():
            for term_id in scan.hits:
                candidates.update(self._by_term.get(term_id, ()))
        found: list[tuple[_Rule, str, _Scan, int, int]] = []
        for index in sorted(candidates):
            rule = self._rules[index]
            if rule.sources is not None and source not in rule.sources:
                continue
            fields = [scans[name] for name in rule.fields]
            if any(scan.any_hit(rule.none) for scan in fields):
                continue
            if not all(any(term_id in scan.hits for scan in fields) for term_id in rule.all):
                continue
            for field_name in rule.fields:
                for start, end in _rule_hits(rule, field_name, scans[field_name], on_timeout):
                    found.append((rule, field_name, scans[field_name], start, end))
        return found

    def _scan(self, original: str) -> _Scan:
        folded = fold_mapped(original)
        scan = _Scan(folded, {})
        if self._automaton is None or not original:
            return scan
        text = folded.text
        size = len(text)
        cased_at: dict[tuple[int, int], str] = {}
        for last, (length, word_start, word_end, variants) in self._automaton.iter(text):
            start, end = last - length + 1, last + 1
            if word_start and start > 0 and _is_word_char(text[start - 1]):
                continue
            if word_end and end < size and _is_word_char(text[end]):
                continue
            for term_id, cased in variants:
                if cased is not None:
                    if (start, end) not in cased_at:
                        span = original[folded.start(start) : folded.end(end)]
                        cased_at[start, end] = fold(span, casefold=False)
                    if cased_at[start, end] != cased:
                        continue
                scan.hits.setdefault(term_id, []).append((start, end))
        return scan


def _rule_hits(
    rule: _Rule, field_name: str, scan: _Scan, on_timeout: Callable[[str], None] | None
) -> list[tuple[int, int]]:
    """The rule's term and regex hits in one field that satisfy `near`."""
    spans = [span for term_id in rule.terms for span in scan.hits.get(term_id, ())]
    for pattern in rule.regexes:
        try:
            found = list(pattern.finditer(scan.folded.text, timeout=TIME_LIMIT))
        except TimeoutError:
            logger.warning(
                "keyword %s: regex %r ran past its %gs time limit on a %d-character %s;"
                " it finds nothing there",
                rule.name,
                pattern.pattern,
                TIME_LIMIT,
                len(scan.folded.text),
                field_name,
            )
            if on_timeout is not None:
                on_timeout(rule.name)
            continue
        spans.extend(m.span() for m in found if m.end() > m.start())
    if rule.near and spans:
        near = [span for term_id in rule.near for span in scan.hits.get(term_id, ())]
        spans = [span for span in spans if _is_near(span, near, rule.within, scan)]
    return spans


def _is_near(span: tuple[int, int], near: list[tuple[int, int]], within: int, scan: _Scan) -> bool:
    """Whether a near hit lies within `within` words (1 = the adjacent word) of `span`."""
    if not near:
        return False
    words = scan.word_starts()
    start, end = span
    for near_start, near_end in near:
        if near_end <= start:
            between = bisect_left(words, start) - bisect_left(words, near_end)
        elif near_start >= end:
            between = bisect_left(words, near_start) - bisect_left(words, end)
        else:
            return True  # overlapping
        if between + 1 <= within:
            return True
    return False


def _compile_rule(rule: RuleSpec, term_ids: dict[_Term, int]) -> _Rule:
    """One config rule -> term ids into the shared table, regexes compiled, checks done."""
    case_sensitive = {}
    for raw in rule.case_sensitive_terms:
        cased = fold(raw, casefold=False)
        if not cased:
            raise RuleError(rule.name, f"case-sensitive term {raw!r} is empty after normalisation")
        case_sensitive[cased] = raw
    used: set[str] = set()

    def terms_of(raws: Sequence[str], kind: str) -> list[_Term]:
        terms = []
        for raw in raws:
            cased = fold(raw, casefold=False)
            if not cased:
                raise RuleError(rule.name, f"{kind} {raw!r} is empty after normalisation")
            if cased in case_sensitive:
                used.add(cased)
                terms.append(_Term(fold(raw), cased))
            else:
                terms.append(_Term(fold(raw), None))
        return terms

    terms = terms_of(rule.terms, "term")
    required = terms_of(rule.all, "all term")
    vetoes = terms_of(rule.none, "none term")
    near = terms_of(rule.near.terms, "near term") if rule.near else []
    unused = [raw for cased, raw in case_sensitive.items() if cased not in used]
    if unused:
        raise RuleError(rule.name, f"case_sensitive_terms {unused} are not terms of this rule")
    for term in terms + required:
        for veto in vetoes:
            if veto.covers(term):
                raise RuleError(rule.name, f"{term} can never match: none excludes {veto}")
    if near and all(any(veto.covers(term) for veto in vetoes) for term in near):
        raise RuleError(rule.name, "every near term is excluded by none, so it can never match")

    regexes = []
    for pattern in rule.regex:
        try:
            # Regexes run over the folded text, so Arabic-script variants are folded in them too.
            regexes.append(compile_pattern(fold_pattern(pattern), ignore_case=True))
        except ValueError as exc:
            raise RuleError(rule.name, f"regex {pattern!r} does not compile: {exc}") from None
    if not terms and not regexes:
        raise RuleError(rule.name, "needs at least one term or regex")

    def ids(group: list[_Term]) -> tuple[int, ...]:
        return tuple(term_ids.setdefault(term, len(term_ids)) for term in group)

    return _Rule(
        name=rule.name,
        fields=tuple(name for name in FIELDS if name in rule.fields),
        sources=frozenset(rule.sources) if rule.sources else None,
        terms=ids(terms),
        regexes=tuple(regexes),
        all=ids(required),
        none=ids(vetoes),
        near=ids(near),
        within=rule.near.within if rule.near else 0,
    )
