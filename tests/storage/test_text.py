"""The one text module (storage/text.py): the folding that keyword matching and near-duplicate
shingles share, normalised words (what a re-check may ignore), and the one snippet that the
CLI, the web view and alerts show."""

from __future__ import annotations

import pytest

from storage.text import (
    MARK_END,
    MARK_START,
    SNIPPET_CONTEXT,
    fold,
    minhash,
    normalise,
    plain_snippet,
    snippet,
    words,
)

URDU_TERM = "پاکستان امریکہ"  # Persian/Urdu code points: ی ک ہ

# (text, its folded form). Keyword matching (tests/crawler/test_keywords.py) and shingling
# (below) both rely on every row: a term written either way finds the other, and the two
# spellings of an article give one signature.
FOLDING = [
    # Latin: case, NFKC, diacritics (kept, but one form whether composed or not)
    ("Pakistan-US", "pakistan-us"),
    ("ＰＡＫＩＳＴＡＮ", "pakistan"),  # NFKC: fullwidth letters
    ("ﬁnance", "finance"),  # NFKC: ligature
    ("Straße", "strasse"),  # casefold, not just lower
    ("CAFÉ", "café"),
    ("Cafe\u0301", "café"),  # a combining acute composes
    ("ÉLYSÉE Palace", "élysée palace"),
    # Arabic-script letter variants and marks
    ("پاکستان امريكه", URDU_TERM),  # Arabic yeh, kaf, heh
    ("پاکِستان امریکہ", URDU_TERM),  # kasra dropped
    ("پاکستان امری\u200cکہ", URDU_TERM),  # ZWNJ dropped
    ("پاکستـــان امریکہ", URDU_TERM),  # tatweel dropped
    ("صلاة", "صلاۃ"),  # teh marbuta
    ("٢٠٢٥ ۲۰۲۵", "2025 2025"),  # Arabic-Indic and Urdu digits
    # Urdu as typed on an Urdu keyboard is already folded
    ("وزیراعظم شہباز شریف", "وزیراعظم شہباز شریف"),
    ("وزير اعظم شهباز", "وزیر اعظم شہباز"),  # ... and on an Arabic one
    # whitespace and punctuation
    *[(f"Pakistan{dash}US", "pakistan-us") for dash in "‐‑‒–—―−﹘﹣－"],
    ("Pakistan - US", "pakistan-us"),
    ("Pakistan —US", "pakistan-us"),
    ("Pakistan\u00a0–\n US", "pakistan-us"),
    ("  long\n\n term\u00a0\tpartnership ", "long term partnership"),
    ("inter\u00adnational\u200b talks", "international talks"),  # soft hyphen, zero-width space
]


@pytest.mark.parametrize(("text", "folded"), FOLDING)
def test_folding(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(("text", "folded"), FOLDING)
def test_shingles_fold_as_keywords_do(text: str, folded: str) -> None:
    assert words(text) == words(folded)
    assert (minhash(text) == minhash(folded)).all()


def test_an_arabic_keyboard_copy_is_the_same_article() -> None:
    urdu = "وزیراعظم شہباز شریف نے کہا کہ پاکستان امریکہ کے ساتھ مستحکم تعلقات چاہتا ہے"
    arabic = urdu.translate(str.maketrans("یکہ", "يكه"))
    assert arabic != urdu
    assert normalise(arabic) == normalise(urdu)


def test_normalising_ignores_whitespace_case_punctuation_and_boilerplate_lines():
    a = "The minister said: talks   went well.\nUpdated 5 minutes ago\nShare this article"
    b = "the Minister said talks went well!\n\nUpdated just now"
    assert normalise(a) == normalise(b)
    assert normalise(a) != normalise("The minister said talks went badly.")
    # A long line that starts like boilerplate is content.
    long = "Published reports say the minister will resign after the budget session ends."
    assert normalise(long)


# --- The one snippet ----------------------------------------------------------------------------

TEXT = "word " * 30 + "the\n\nPakistan-US   partnership" + " more" * 30


def test_a_snippet_is_cut_at_words_and_marked_only_when_asked() -> None:
    start = TEXT.index("Pakistan-US")
    end = start + len("Pakistan-US")
    plain = snippet(TEXT, start, end)
    assert plain.startswith("…word ") and plain.endswith(" more…")
    assert "the Pakistan-US partnership" in plain
    assert len(plain) <= 2 * SNIPPET_CONTEXT + (end - start) + 2
    marked = snippet(TEXT, start, end, marked=True)
    assert f"the {MARK_START}Pakistan-US{MARK_END} partnership" in marked
    assert plain_snippet(marked, "", "") == plain  # the marks are the only difference
    assert snippet("Short.", 0, 5) == "Short."
