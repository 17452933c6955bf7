"""Text normalisation for change detection and shingling: case, Unicode, whitespace, boilerplate."""

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
