"""Text normalisation: what the store can hold, and what change detection and shingling compare
(case, Unicode, whitespace, boilerplate)."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+")
# Short lines that change between fetches without the article changing.
BOILERPLATE = re.compile(
    r"^(advertisement|sponsored|share|share this( article| story)?|read more|related"
    r"( stories| articles)?|follow us\b.*|subscribe\b.*|copyright\b.*|all rights reserved"
    r"|(last )?updated\b.*|published\b.*|\d+ (comments?|views?|shares?|reads?))$"
)
BOILERPLATE_MAX_WORDS = 8
# Lone surrogates cannot be encoded (UTF-8, so neither SQLite nor PostgreSQL takes them);
# PostgreSQL refuses NUL; other C0 and C1 controls are junk in any text we keep.
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def storable(text: str) -> str:
    """`text` as both databases store it: lone surrogates replaced by U+FFFD, control
    characters other than tab, newline and carriage return dropped."""
    return CONTROL.sub("", SURROGATE.sub("\ufffd", text))


def normalise(text: str) -> str:
    """Words only, case-folded, one line per paragraph, boilerplate lines dropped.

    Two fetches of an article whose texts normalise equal have not really changed.
    """
    lines = []
    for line in unicodedata.normalize("NFKC", text).casefold().splitlines():
        words = WORD.findall(line)
        if not words:
            continue
        joined = " ".join(words)
        if len(words) <= BOILERPLATE_MAX_WORDS and BOILERPLATE.match(joined):
            continue
        lines.append(joined)
    return "\n".join(lines)


def words(text: str) -> list[str]:
    """The normalised words of `text`, in order."""
    return normalise(text).split()
