"""The extraction quality set: saved pages with hand-checked expectations, and how text is scored.

Two kinds of page. tests/fixtures/quality/NAME.html are pages written by hand for newsmon after
real news and ministry layouts (each JSON says after what); NAME.json says whether the page is
an article, the item fields it must give, and phrases the text must and must not hold (as
trafilatura's evaldata.json does, with none of its content); NAME.txt, for an article, is
its text as a reader sees it, checked by hand, to score token F1 against. The corpus pages of
jobs/demo_site with a golden (tests/fixtures/expected/) join with their `with`/`without`
lists, and dar-rubio with the seed story's text as its reference.

Used by tests/crawler/test_extract_quality.py (pinned floors) and bench/quality.py (the
comparison with bare trafilatura).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.corpus import CORPUS_ROOT, FIXTURES, GOLDEN

QUALITY = FIXTURES / "quality"
TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Case:
    name: str
    url: str
    html: str = field(repr=False)
    article: bool = True
    item: dict[str, object] = field(default_factory=dict)
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    reference: str | None = field(default=None, repr=False)


def cases() -> list[Case]:
    """Every page of the quality set, hand-written ones first."""
    found = []
    for spec_path in sorted(QUALITY.glob("*.json")):
        spec = json.loads(spec_path.read_text("utf-8"))
        reference = spec_path.with_suffix(".txt")
        found.append(
            Case(
                name=spec_path.stem,
                url=spec["url"],
                html=spec_path.with_suffix(".html").read_text("utf-8"),
                article=spec["article"],
                item=spec.get("item", {}),
                with_=tuple(spec.get("with", ())),
                without=tuple(spec.get("without", ())),
                reference=reference.read_text("utf-8") if reference.exists() else None,
            )
        )
    for name, golden in sorted(GOLDEN.items()):
        page = CORPUS_ROOT / golden["page"].lstrip("/")
        if not page.exists():  # the legacy-encoding pages: tests/crawler/test_extract.py
            continue
        reference = QUALITY / "reference" / f"{name}.txt"
        found.append(
            Case(
                name=name,
                url="https://demo.example" + golden["page"],
                html=page.read_text("utf-8"),
                with_=tuple(golden["text"]["with"]),
                without=tuple(golden["text"]["without"]),
                reference=reference.read_text("utf-8") if reference.exists() else None,
            )
        )
    return found


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN.findall(text.casefold()))


def token_f1(found: str, reference: str) -> float:
    """Token F1 of a text against its reference: words in common, counted with repeats."""
    got, want = tokens(found), tokens(reference)
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class Score:
    """How one extractor did on the set."""

    f1: dict[str, float] = field(default_factory=dict)  # per article page with a reference
    phrases: int = 0  # with/without checks passed ...
    phrase_checks: int = 0  # ... of these
    pages_right: int = 0  # article kept or non-article refused ...
    pages: int = 0  # ... of these
    failures: list[str] = field(default_factory=list)

    @property
    def mean_f1(self) -> float:
        return sum(self.f1.values()) / len(self.f1) if self.f1 else 0.0

    @property
    def phrase_rate(self) -> float:
        return self.phrases / self.phrase_checks if self.phrase_checks else 0.0


def score(extract: Callable[[Case], str | None], selected: list[Case]) -> Score:
    """Score an extractor (a case -> its text, None for 'not an article') on these cases."""
    result = Score()
    for case in selected:
        text = extract(case)
        result.pages += 1
        if (text is not None) == case.article:
            result.pages_right += 1
        else:
            result.failures.append(f"{case.name}: {'lost' if case.article else 'let in'}")
        if not case.article:
            continue
        text = text or ""
        checks = [phrase in text for phrase in case.with_]
        checks += [phrase not in text for phrase in case.without]
        result.phrases += sum(checks)
        result.phrase_checks += len(checks)
        result.failures += [f"{case.name}: lost {p!r}" for p in case.with_ if p not in text]
        result.failures += [f"{case.name}: kept {p!r}" for p in case.without if p in text]
        if case.reference is not None:
            result.f1[case.name] = token_f1(text, case.reference)
    return result
