"""Text, one way for every reader: what the store can hold, the one folding that keyword matching,
change detection and near-duplicate shingles share, MinHash signatures, and the one snippet that
shows a match in context (the CLI, the web view and alerts).

In storage/ because storage needs it too (near-copies, re-checks, search snippets) and storage
imports nothing above it; crawler/ and jobs/ import it from here.

Shingles were once folded apart from keywords (NFKC and case only): signatures stored before
then differ from new ones for text with Arabic-script variants, harakat, tatweel or zero-width
marks, so near-copies between such old and new items are missed until the old one is re-indexed.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# --- What the store can hold --------------------------------------------------------------------

# Lone surrogates cannot be encoded (UTF-8, so neither SQLite nor PostgreSQL takes them);
# PostgreSQL refuses NUL; other C0 and C1 controls are junk in any text we keep.
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def storable(text: str) -> str:
    """`text` as both databases store it: lone surrogates replaced by U+FFFD, control
    characters other than tab, newline and carriage return dropped."""
    return CONTROL.sub("", SURROGATE.sub("\ufffd", text))


def storable_or_none(text: str | None) -> str | None:
    """`text` made storable; None for no text (None, empty, or nothing left)."""
    return (storable(text) or None) if text else None


# --- Folding ------------------------------------------------------------------------------------
# NFKC, case, dash variants, spaces around a dash, whitespace runs, Arabic-script variants and
# invisible marks. Keyword matching needs offsets back into the original text: the common case
# keeps every character in place and needs no map.

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# Urdu is often typed on Arabic keyboards: fold the Arabic code points to the Urdu/Persian ones.
_ARABIC_SCRIPT = {
    "\u064a": "\u06cc",  # ي Arabic yeh -> ی Farsi yeh
    "\u0649": "\u06cc",  # ى alef maksura -> ی
    "\u0643": "\u06a9",  # ك Arabic kaf -> ک keheh
    "\u0647": "\u06c1",  # ه heh -> ہ heh goal
    "\u0629": "\u06c3",  # ة teh marbuta -> ۃ teh marbuta goal
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Extended Arabic-Indic (Urdu) digits
}
# Invisible or optional marks: harakat, superscript alef, tatweel, zero-width and bidi controls.
_DROPPED = (
    "".join(map(chr, range(0x064B, 0x0660)))
    + "\u0670\u0640\u00ad\u200b\u200c\u200d\u200e\u200f\ufeff"
    + "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())  # U+3000 is the last one
_CHAR_MAP = {
    **dict.fromkeys(_DASHES, "-"),
    **_ARABIC_SCRIPT,
    **dict.fromkeys(_SPACES.replace(" ", ""), " "),
}
_TABLE = str.maketrans({**_CHAR_MAP, **dict.fromkeys(_DROPPED)})  # for the slow path
_MAPPED_RE = re.compile(f"[{re.escape(''.join(_CHAR_MAP))}]")
_DROPPED_RE = re.compile(f"[{re.escape(_DROPPED)}]")
_RUN_PAIRS = ("  ", " -", "- ")  # how every run that _collapse shortens begins


class OffsetMap:
    """Folded offsets -> offsets before folding, as segments that start at anchors.

    A segment is either linear (a stretch copied one to one) or a replacement: folded
    characters that all stand for one original span (an NFKC expansion, a collapsed run).
    """

    __slots__ = ("outs", "origs", "ends")

    def __init__(self) -> None:
        self.outs = [0]  # folded index where each segment begins
        self.origs = [0]  # original index where it begins
        self.ends = [-1]  # original end of a replacement segment; -1 for a linear one

    def replace(self, out: int, first: int, stop: int, length: int) -> None:
        """Folded [out, out+length) replaces original [first, stop); linear again after."""
        self.outs += (out, out + length)
        self.origs += (first, stop)
        self.ends += (stop, -1)

    def start(self, index: int) -> int:
        segment = bisect_right(self.outs, index) - 1
        if self.ends[segment] >= 0:
            return self.origs[segment]
        return self.origs[segment] + index - self.outs[segment]

    def end(self, index: int) -> int:
        """The original end of the folded character before `index`."""
        segment = bisect_right(self.outs, index - 1) - 1
        if self.ends[segment] >= 0:
            return self.ends[segment]
        return self.origs[segment] + index - self.outs[segment]


@dataclass(slots=True)
class Folded:
    """Folded text and the maps back: per-character folding, then the whitespace collapse."""

    text: str
    chars: OffsetMap | None = None
    runs: OffsetMap | None = None

    def start(self, index: int) -> int:
        """The original offset where the folded character at `index` begins."""
        index = self.runs.start(index) if self.runs else index
        return self.chars.start(index) if self.chars else index

    def end(self, index: int) -> int:
        """The original offset where the folded character before `index` ends."""
        index = self.runs.end(index) if self.runs else index
        return self.chars.end(index) if self.chars else index


def fold(text: str, *, casefold: bool = True) -> str:
    """The folded form of `text`, trimmed: what keyword terms, matched text and shingles
    are compared as."""
    return fold_mapped(text, casefold=casefold).text.strip()


def fold_mapped(text: str, *, casefold: bool = True) -> Folded:
    """The folded text with the offsets back into `text` (untrimmed)."""
    chars = None
    if text.isascii():
        folded = text.lower() if casefold else text
    else:
        folded = text.casefold() if casefold else text
        if (
            len(folded) != len(text)
            or not unicodedata.is_normalized("NFKC", text)
            or _DROPPED_RE.search(text)
        ):
            folded, chars = _fold_groups(text, casefold)
    folded = _map_chars(folded)
    folded, runs = _collapse(folded)
    return Folded(folded, chars, runs)


def fold_pattern(pattern: str) -> str:
    """A regex folded character by character (Arabic-script variants, dashes, marks dropped),
    to run over folded text."""
    return pattern.translate(_TABLE)


def _fold_groups(text: str, casefold: bool) -> tuple[str, OffsetMap]:
    """Fold the characters that change length (with their combining marks) one group at a time."""
    normalized = unicodedata.is_normalized("NFKC", text)
    offsets = OffsetMap()
    dirty = "".join(c for c in set(text) if not c.isascii() and _changes_length(c, normalized))
    if not dirty:  # e.g. conjoining Hangul jamo: left as they are
        return (text.casefold() if casefold else text), offsets
    pieces: list[str] = []
    last = group_end = out = 0
    for found in re.finditer(f"[{re.escape(''.join(sorted(dirty)))}]", text):
        position = found.start()
        if position < group_end:
            continue
        first = position
        if position > 0 and unicodedata.combining(text[position]):
            first -= 1  # a mark composes with its base under NFKC
        stop = position + 1
        while stop < len(text) and unicodedata.combining(text[stop]):
            stop += 1
        clean = text[last:first]
        pieces.append(clean.casefold() if casefold else clean)
        out += first - last
        group = unicodedata.normalize("NFKC", text[first:stop]).translate(_TABLE)
        group = group.casefold() if casefold else group
        pieces.append(group)
        offsets.replace(out, first, stop, len(group))
        out += len(group)
        last = group_end = stop
    clean = text[last:]
    pieces.append(clean.casefold() if casefold else clean)
    return "".join(pieces), offsets


@functools.cache
def _changes_length(char: str, normalized: bool) -> bool:
    """Whether folding `char` alone may not give exactly one character in its place."""
    if char in _DROPPED or len(char.casefold()) != 1:
        return True
    if normalized:  # NFKC-stable text: marks have nothing left to compose with
        return False
    return unicodedata.combining(char) != 0 or unicodedata.normalize("NFKC", char) != char


def _map_chars(text: str) -> str:
    """Dash variants, Arabic-script variants and every whitespace character, one for one."""
    if _MAPPED_RE.search(text):
        for char in set(_MAPPED_RE.findall(text)):
            text = text.replace(char, _CHAR_MAP[char])
    return text


def _collapse(text: str) -> tuple[str, OffsetMap | None]:
    """Whitespace runs become one space and spaces around a dash go.

    Searches for the three pairs that start such a run with str.find: far cheaper than a regex
    scan over a whole article, and most articles have only a few runs.
    """
    nexts = [text.find(pair) for pair in _RUN_PAIRS]
    if max(nexts) < 0:
        return text, None
    offsets = OffsetMap()
    pieces: list[str] = []
    last = 0
    while True:
        first = min((n for n in nexts if n >= 0), default=-1)
        if first < 0:
            break
        stop = first + 2
        while stop < len(text) and text[stop] in " -":
            stop += 1
        run = text[first:stop]
        replacement = run.replace(" ", "") if "-" in run else " "
        if len(replacement) != len(run):
            pieces.append(text[last:first])
            offsets.replace(
                offsets.outs[-1] + first - offsets.origs[-1], first, stop, len(replacement)
            )
            pieces.append(replacement)
            last = stop
        for index, pair in enumerate(_RUN_PAIRS):
            if 0 <= nexts[index] < stop:
                nexts[index] = text.find(pair, stop)
    if not pieces:
        return text, None
    pieces.append(text[last:])
    return "".join(pieces), offsets


# --- Normalised words: change detection and shingles --------------------------------------------

WORD = re.compile(r"\w+")
# Short lines that change between fetches without the article changing.
BOILERPLATE = re.compile(
    r"^(advertisement|sponsored|share|share this( article| story)?|read more|related"
    r"( stories| articles)?|follow us\b.*|subscribe\b.*|copyright\b.*|all rights reserved"
    r"|(last )?updated\b.*|published\b.*|\d+ (comments?|views?|shares?|reads?))$"
)
BOILERPLATE_MAX_WORDS = 8


def normalise(text: str) -> str:
    """Folded words only, one line per paragraph, boilerplate lines dropped.

    Two fetches of an article whose texts normalise equal have not really changed.
    """
    lines = []
    for line in text.splitlines():  # before folding, which makes every line break a space
        words = WORD.findall(fold(line))
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


# --- MinHash signatures (datasketch) and their LSH band hashes ----------------------------------
# Pure computation, no database: extraction workers compute signatures too.

NUM_PERM = 128
SHINGLE_WORDS = 3
# 20 bands of 6 rows (120 of the 128 hash values): a pair at Jaccard 0.8 shares a band with
# probability 0.998, at 0.7 with 0.92, at 0.3 with 0.015. Candidates are then confirmed with
# MinHash.jaccard against the configured threshold, so thresholds from 0.7 up keep full recall.
BANDS, ROWS = 20, 6
# datasketch 2's default permutation scheme, pinned: stored signatures must stay comparable.
SCHEME = "affine32"


def minhash(text: str) -> Any:
    """The MinHash values (a numpy array) of the text's normalised word 3-shingles.

    Exactly what datasketch's MinHash(scheme="affine32").update_batch gives (tests/storage/
    test_text.py compares them), computed in one batch: the SHA-1 prefixes of all shingles
    joined into one buffer, then the MurmurHash3 pre-mix and the 128 affine permutations as
    array operations. About a third cheaper than going through a MinHash object.
    """
    import numpy as np

    tokens = words(text)
    if len(tokens) < SHINGLE_WORDS:
        shingles = {" ".join(tokens)}
    else:
        shingles = set(
            map(" ".join, zip(*(tokens[i:] for i in range(SHINGLE_WORDS)), strict=False))
        )
    sha1 = hashlib.sha1
    # datasketch's sha1_hash32: the first 4 bytes of the SHA-1 digest, little-endian.
    prefixes = b"".join([sha1(shingle.encode("utf-8")).digest()[:4] for shingle in shingles])
    hashed = _fmix32(np.frombuffer(prefixes, dtype="<u4").astype(np.uint32))
    a, b = _permutations()
    return (hashed[:, None] * a + b).min(axis=0)


# MurmurHash3's 32-bit finalizer: the fixed bijection datasketch's affine32 scheme mixes each
# input hash with before permuting it.
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)


def _fmix32(values: Any) -> Any:
    import numpy as np

    s1, m1, s2, m2, s3 = (np.uint32(constant) for constant in _FMIX32)
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


@functools.cache
def _permutations() -> Any:
    """(a, b) of the 128 affine permutations h -> a * h + b mod 2**32, drawn as datasketch's
    MinHash._init_permutations draws them for affine32 (seed 1): an odd `a`, then `b`.

    Drawn here with numpy alone: importing datasketch imports scipy, which cost each crawl's
    fork server half a second of CPU for two arrays (tests/storage/test_text.py checks them
    against datasketch's).
    """
    import numpy as np

    generator = np.random.RandomState(1)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return np.array([a, b])


# The crawl process handles signatures as the bytes workers send and the database stores
# (little-endian uint64 values), so it never imports numpy for them: the functions below take
# either form.


def to_bytes(values: Any) -> bytes:
    """MinHash values as stored: 8 bytes each, little-endian (bytes pass through)."""
    if isinstance(values, bytes | bytearray | memoryview):
        return bytes(values)
    return bytes(values.astype("<u8").tobytes())


def estimated_jaccard(values: Any, stored: bytes) -> float:
    """What MinHash.jaccard computes: the share of equal hash values."""
    ours, theirs = memoryview(to_bytes(values)).cast("Q"), memoryview(bytes(stored)).cast("Q")
    return sum(1 for a, b in zip(ours, theirs, strict=True) if a == b) / NUM_PERM


def band_hashes(hashvalues: Any) -> list[tuple[int, int]]:
    """(band, 64-bit hash of that band's hash values) for every band of a MinHash's values."""
    data, width = to_bytes(hashvalues), ROWS * 8
    bands = []
    for band in range(BANDS):
        digest = hashlib.blake2b(data[band * width : (band + 1) * width], digest_size=8).digest()
        bands.append((band, int.from_bytes(digest, "little", signed=True)))
    return bands


def from_values(data: bytes) -> Any:
    """Stored MinHash values back as a numpy array."""
    import numpy as np

    return np.frombuffer(data, dtype="<u8")


# --- Snippets: a match in context ---------------------------------------------------------------

SNIPPET_CONTEXT = 60  # characters either side of a match, at most
# Marked snippets have the match between these private-use characters (the database's full-text
# snippets too); front ends turn them into »marks« or <mark> (after escaping, never before).
MARK_START, MARK_END = "\ue000", "\ue001"


def snippet(text: str, start: int, end: int, *, marked: bool = False) -> str:
    """text[start:end] with up to SNIPPET_CONTEXT characters either side, cut at whole words,
    whitespace collapsed, "…" where cut; `marked` puts MARK_START/MARK_END around the match.

    The one rendering of a match in context: stored with each keyword match (so alerts quote
    it), and marked by `newsmon show` and the web view.
    """
    return spans_snippet(text, [(start, end)], marked=marked)


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans in order, overlapping or touching ones merged into one."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def spans_snippet(text: str, spans: Sequence[tuple[int, int]], *, marked: bool = False) -> str:
    """As snippet(), for several matches close together: one context from the first to the
    last, each match marked (overlapping ones as one)."""
    merged = merge_spans(spans)
    first, last = merged[0][0], merged[-1][1]
    left = max(0, first - SNIPPET_CONTEXT)
    right = min(len(text), last + SNIPPET_CONTEXT)
    if left > 0:
        while left < first and not text[left - 1].isspace():
            left += 1
    if right < len(text):
        while right > last and not text[right].isspace():
            right -= 1
    opening, closing = (MARK_START, MARK_END) if marked else ("", "")
    pieces, at = [], left
    for start, end in merged:
        pieces += [text[at:start], opening, text[start:end], closing]
        at = end
    pieces.append(text[at:right])
    body = " ".join("".join(pieces).split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


def plain_snippet(marked: str | None, start: str = "»", end: str = "«") -> str | None:
    """A marked snippet for terminals and JSON: matches marked »like this«."""
    if marked is None:
        return None
    return marked.replace(MARK_START, start).replace(MARK_END, end)


def html_snippet(marked: str | None) -> str:
    """A marked snippet as safe HTML: the scraped text escaped first, then matches wrapped in
    <mark>."""
    escaped = html.escape(marked or "")
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
