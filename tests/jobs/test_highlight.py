import io
from datetime import UTC, datetime

from jobs.output import highlight, write_item
from storage.search import Match, StoredItem


def test_highlight_marks_every_span_and_merges_overlaps():
    text = "The Pakistan-US talks: US-Pakistan ties."
    assert highlight(text, [(23, 34), (4, 15), (4, 12)]) == (
        "The »Pakistan-US« talks: »US-Pakistan« ties."
    )
    assert highlight(text, []) == text
    assert highlight("ab", [(0, 1)], ansi=True) == "\x1b[7ma\x1b[0mb"


def test_show_marks_matches_in_the_listing_and_in_the_text():
    item = StoredItem(
        id=7,
        source_name="mofa",
        url="https://example.com/7",
        title="Talks",
        author=None,
        published_at=None,
        date_source=None,
        fetched_at=datetime(2025, 7, 25, tzinfo=UTC),
        language=None,
        site_name=None,
        canonical_url=None,
        text="Before. The Pakistan-US talks went well.",
        matches=(Match(keyword="pak-us", field="text", start=12, end=23, snippet="…"),),
    )
    out = io.StringIO()
    write_item(item, out)
    shown = out.getvalue()
    assert "pak-us [text]: Before. The »Pakistan-US« talks went well." in shown
    assert shown.rstrip().endswith("Before. The »Pakistan-US« talks went well.")
