"""What reaches a person from jobs/output.py: matches marked in listings and in the text, and
nothing from scraped text that a terminal or a spreadsheet would act on (control characters,
formulas)."""

import csv
import io
from datetime import UTC, datetime

from jobs import output
from jobs.output import highlight, write_item
from storage.search import Hit, Match, StoredItem

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m"


def hostile_item() -> StoredItem:
    text = f"Before {ESCAPES} the Pakistan-US talks\r\nended."
    start = text.index("Pakistan-US")
    return StoredItem(
        id=7,
        source_name="dawn",
        url="https://news.example/a",
        title='=HYPERLINK("http://attacker.example/","Click")',
        author=f"Staff{ESCAPES} Reporter",
        published_at=datetime(2025, 7, 25, tzinfo=UTC),
        date_source="page",
        fetched_at=datetime(2025, 7, 25, tzinfo=UTC),
        language="en",
        site_name=f"Dawn{ESCAPES}",
        canonical_url=None,
        text=text,
        matches=(Match("us", "text", start, start + len("Pakistan-US"), "…"),),
    )


def control_characters(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) < 160]


def test_printable_keeps_text_and_drops_controls():
    assert output.printable(f"a{ESCAPES}b\tc\nd\re") == "a]0;pwned[2J31mb\tc\nde"


def test_show_and_the_tables_print_no_control_characters():
    shown, table, fields = io.StringIO(), io.StringIO(), io.StringIO()
    output.write_item(hostile_item(), shown)
    output.write_table([hostile_item()], table)
    output.write_field_table(
        output.rows([Hit(hostile_item())], ["title", "author", "text"]),
        fields,
        ["title", "author", "text"],
    )
    for written in (shown, table, fields):
        assert control_characters(written.getvalue()) == []
    assert "»Pakistan-US«" in shown.getvalue()  # the match is still marked where it was


def test_csv_cells_never_start_a_formula():
    out = io.StringIO()
    output.write_rows(
        output.rows([Hit(hostile_item())], ["id", "title", "author"]),
        "csv",
        out,
        ["id", "title", "author"],
    )
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["title"] == '\'=HYPERLINK("http://attacker.example/","Click")'
    assert row["id"] == "7" and control_characters(row["author"]) == []
    for start in "=+-@\t":
        assert output.csv_cell(start + "1+1").startswith("'")
    assert output.csv_cell(-5) == -5 and output.csv_cell("Pakistan-US") == "Pakistan-US"


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


def test_one_field_table_gives_every_format_its_columns():
    names = [field.name for field in output.FIELDS]
    assert len(set(names)) == len(names) and set(output.SHOWN_FIELDS) <= set(names)
    assert output.default_fields("csv", searching=False) == [
        "id", "url", "source", "title", "author", "published_at", "fetched_at", "language",
        "keywords",
    ]  # fmt: skip
    assert output.default_fields("table", searching=True)[-1] == "snippet"
    assert output.default_fields("jsonl", searching=False) == [n for n in names if n != "snippet"]
    assert output.parse_fields(" id, text ") == ["id", "text"]
    try:
        output.parse_fields("id,nope")
    except ValueError as error:
        assert str(error).startswith("unknown field(s) nope; choose from id, url, source")
    else:
        raise AssertionError("an unknown field is refused")
    [row] = output.rows([Hit(hostile_item())], ["id", "keywords", "published_at", "snippet"])
    assert row == {
        "id": 7,
        "keywords": ["us"],
        "published_at": "2025-07-25T00:00:00+00:00",
        "snippet": None,
    }
