"""The language of a page: what it declares (`<html lang>`), unless its text says otherwise.

py3langid's model (about 5 MB) is loaded once per process: the extraction pool's fork server
loads it (crawler/pool_server.py), so every worker forks with it in memory. Urdu and Arabic
share a script and py3langid confuses them on short or news-style text, so in that script the
letters only one of them uses decide.
"""

from __future__ import annotations

import functools
from typing import Any

PAGE = "page"
TEXT = "text"
SAMPLE_CHARS = 1500  # the start of the text: on the quality pages it names what 4000 named,
# at a third of the cost
# How sure the detector must be to name a language the page did not declare, and to overrule
# one it did (the bar is higher: the page's word should usually stand).
TO_FILL = 0.80
TO_OVERRULE = 0.99
ARABIC_SCRIPT = frozenset({"ar", "fa", "ur", "ps", "ug", "ku", "sd"})
# Letters of Urdu's alphabet that Arabic does not use (ٹ ڈ ڑ ں ہ ھ ے ۓ), and Arabic's ta
# marbuta and alif maqsura, which Urdu text rarely has.
URDU_LETTERS = frozenset("\u0679\u0688\u0691\u06ba\u06c1\u06be\u06d2\u06d3")
ARABIC_LETTERS = frozenset("\u0629\u0649")


@functools.cache
def identifier() -> Any:
    """py3langid's identifier with probabilities normalised to 0..1, loaded once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str | None, float]:
    """(language code, confidence) of a text, or (None, 0) for one with no letters."""
    sample = text[:SAMPLE_CHARS]
    if not any(char.isalpha() for char in sample):
        return None, 0.0
    language, confidence = identifier().classify(sample)
    if language in ARABIC_SCRIPT:
        by_letters = _urdu_or_arabic(sample)
        if by_letters is not None:
            return by_letters, 1.0
    return str(language), float(confidence)


def _urdu_or_arabic(sample: str) -> str | None:
    """ "ur" or "ar" when letters only one of them uses say so clearly, else None."""
    urdu = sum(char in URDU_LETTERS for char in sample)
    arabic = sum(char in ARABIC_LETTERS for char in sample)
    letters = sum(char.isalpha() for char in sample)
    if urdu > 2 * arabic and urdu >= 0.01 * letters:
        return "ur"
    if arabic > 2 * urdu and arabic >= 0.005 * letters:
        return "ar"
    return None


def in_arabic_script(text: str) -> bool:
    """Whether most letters of the text are Arabic-script ones."""
    letters = [char for char in text[:SAMPLE_CHARS] if char.isalpha()]
    arabic = sum("\u0600" <= char <= "\u06ff" or "\u0750" <= char <= "\u077f" for char in letters)
    return arabic > len(letters) / 2


def page_language(declared: str | None, text: str) -> tuple[str | None, str | None]:
    """(language, where it came from: PAGE or TEXT), or (None, None) when neither tells."""
    detected, confidence = detect(text)
    if declared is None:
        if detected is not None and confidence >= TO_FILL:
            return detected, TEXT
        return None, None
    if detected is None or detected == declared:
        return declared, PAGE
    # A declaration in the wrong script (lang="en" on Arabic text) needs less to overrule.
    wrong_script = (declared in ARABIC_SCRIPT) != in_arabic_script(text)
    if confidence >= (TO_FILL if wrong_script else TO_OVERRULE):
        return detected, TEXT
    return declared, PAGE
