"""Language from the text: py3langid where the page declares none or its text contradicts the
declaration, with Urdu and Arabic (one script) told apart by the letters only one of them uses."""

from __future__ import annotations

import pytest

from crawler.language import PAGE, TEXT, detect, page_language

ENGLISH = (
    "The Foreign Office said on Friday that the two sides had agreed to resume the structured"
    " dialogue on trade and investment, and to meet again in Washington before the end of the year."
)
URDU = (
    "وفاقی حکومت نے آئندہ مالی سال کے بجٹ میں ترقیاتی اخراجات کے لیے گیارہ سو ارب روپے مختص کرنے"
    " کا فیصلہ کیا ہے۔ ماہرین کا کہنا ہے کہ اصل امتحان ان فنڈز کے بروقت استعمال کا ہوگا۔"
)
# Urdu as windows-1256 pages write it: Arabic yeh (U+064A) for Farsi yeh, no Urdu-only letters
# but heh goal and noon ghunna.
URDU_ARABIC_YEH = URDU.replace("\u06cc", "\u064a")
ARABIC = (
    "استقبل وزير الخارجية اليوم في مقر الوزارة سفير جمهورية باكستان الإسلامية، حيث جرى بحث"
    " العلاقات الثنائية بين البلدين الشقيقين وسبل تعزيزها في مختلف المجالات الاقتصادية."
)


@pytest.mark.parametrize(
    ("text", "language"),
    [(ENGLISH, "en"), (URDU, "ur"), (URDU_ARABIC_YEH, "ur"), (ARABIC, "ar")],
    ids=["english", "urdu", "urdu-arabic-yeh", "arabic"],
)
def test_english_urdu_and_arabic_are_told_apart(text: str, language: str) -> None:
    assert detect(text)[0] == language


def test_short_urdu_is_not_taken_for_arabic_or_persian() -> None:
    assert detect("پاکستان اور امریکہ کے درمیان تجارتی مذاکرات")[0] == "ur"


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [
        (None, URDU, ("ur", TEXT)),  # declares none: the text tells
        (None, ARABIC, ("ar", TEXT)),
        ("en", ENGLISH, ("en", PAGE)),  # declared and right
        ("ur", URDU_ARABIC_YEH, ("ur", PAGE)),
        ("en", ARABIC, ("ar", TEXT)),  # a template's lang="en" on an Arabic page
        ("ar", URDU, ("ur", TEXT)),  # Urdu declared as Arabic
        ("en", URDU, ("ur", TEXT)),
        ("ur", ENGLISH, ("en", TEXT)),
    ],
)
def test_the_declared_language_stands_unless_the_text_contradicts_it(
    declared: str | None, text: str, expected: tuple[str, str]
) -> None:
    assert page_language(declared, text) == expected


def test_a_page_without_letters_has_no_language() -> None:
    assert page_language(None, "2025 — 1,234 / 5,678 · 12:30") == (None, None)
    assert page_language("en", "12345 67890") == ("en", PAGE)


def test_a_close_language_does_not_overrule_the_page() -> None:
    # British-English text declared en-GB ("en"): detection agrees or is not sure enough.
    assert page_language("en", "Colour, favour and centre: the programme was organised.")[1] == PAGE
