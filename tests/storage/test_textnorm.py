"""Text normalised for comparison (storage/textnorm.py): what a re-check may ignore."""

from __future__ import annotations

from storage.textnorm import normalise


def test_normalising_ignores_whitespace_case_punctuation_and_boilerplate_lines():
    a = "The minister said: talks   went well.\nUpdated 5 minutes ago\nShare this article"
    b = "the Minister said talks went well!\n\nUpdated just now"
    assert normalise(a) == normalise(b)
    assert normalise(a) != normalise("The minister said talks went badly.")
    # A long line that starts like boilerplate is content.
    long = "Published reports say the minister will resign after the budget session ends."
    assert normalise(long)
