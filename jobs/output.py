"""Item fields, and every way they are written: the tables and `show` for a terminal, csv,
json and jsonl for scripts (parquet, which needs pyarrow, is jobs/export.py).

Each field is declared once, in FIELDS: its name, how it is read from a search hit and its
kind, which says how a one-cell format (csv, a table, a parquet column) renders it. Every
writer here and the parquet export take their columns from that table.

Scraped text is untrusted here too: what goes to a terminal loses its control characters (an
author of "\x1b]0;…\x07\x1b[2J" would retitle and clear the screen), and a CSV cell that a
spreadsheet would run as a formula is quoted with a leading '.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

from storage.text import merge_spans, plain_snippet

if TYPE_CHECKING:
    from storage.search import Hit, StoredItem

TABLE_CELL = 70
# C0 controls but tab and newline, DEL, and C1 controls (0x9b is CSI to many terminals).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t")


@dataclass(frozen=True)
class Field:
    """One column of an item row."""

    name: str
    read: Callable[[Hit], Any]  # the row's value, ready for JSON (times as ISO 8601 text)
    kind: Literal["text", "int", "list", "time", "bool"] = "text"
    narrow: bool = False  # one of the default csv and table columns

    def cell(self, value: Any) -> Any:
        """The value in one cell (csv, a table): a list joined with ';'."""
        return ";".join(value) if self.kind == "list" and value is not None else value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# Every field a row can carry, in output order; --fields picks from these.
FIELDS = (
    Field("id", lambda hit: hit.item.id, "int", narrow=True),
    Field("url", lambda hit: hit.item.url, narrow=True),
    Field("source", lambda hit: hit.item.source_name, narrow=True),
    Field("title", lambda hit: hit.item.title, narrow=True),
    Field("author", lambda hit: hit.item.author, narrow=True),
    Field("published_at", lambda hit: _iso(hit.item.published_at), "time", narrow=True),
    Field("date_source", lambda hit: hit.item.date_source),
    Field("fetched_at", lambda hit: _iso(hit.item.fetched_at), "time", narrow=True),
    Field("language", lambda hit: hit.item.language, narrow=True),
    Field("language_source", lambda hit: hit.item.language_source),
    Field("site_name", lambda hit: hit.item.site_name),
    Field("canonical_url", lambda hit: hit.item.canonical_url),
    Field("keywords", lambda hit: hit.item.keywords, "list", narrow=True),
    Field("duplicate_of", lambda hit: hit.item.duplicate_of, "int"),
    Field("accessible_for_free", lambda hit: hit.item.accessible_for_free, "bool"),
    Field("extracted_by", lambda hit: hit.item.extracted_by),
    Field("snippet", lambda hit: plain_snippet(hit.snippet)),  # search hits only
    Field("text", lambda hit: hit.item.text),
)
FIELD = {field.name: field for field in FIELDS}
# What `show` lists above the text, in this order.
SHOWN_FIELDS = (
    "title",
    "url",
    "source",
    "author",
    "published_at",
    "date_source",
    "fetched_at",
    "language",
    "language_source",
    "site_name",
    "canonical_url",
    "accessible_for_free",
    "extracted_by",
)


def printable(text: str) -> str:
    """`text` without control characters, for a terminal."""
    return CONTROL_CHARACTERS.sub("", text)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: printable, and never taken for a formula by a spreadsheet."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def parse_fields(value: str | None) -> list[str] | None:
    """`a,b,c` as a list of known field names, or ValueError naming the unknown ones."""
    if not value:
        return None
    fields = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in fields if name not in FIELD]
    if unknown or not fields:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(FIELD)}"
        )
    return fields


def default_fields(fmt: str, *, searching: bool) -> list[str]:
    """csv and table stay narrow (no text); json, jsonl and parquet carry everything."""
    if fmt in ("csv", "table"):
        fields = [field.name for field in FIELDS if field.narrow]
        return [*fields, "snippet"] if searching else fields
    return [field.name for field in FIELDS if searching or field.name != "snippet"]


def rows(hits: Iterable[Hit], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
    """One row per hit, of the chosen fields in their order, read as they come."""
    readers = [(name, FIELD[name].read) for name in fields]
    return ({name: read(hit) for name, read in readers} for hit in hits)


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO, fields: Sequence[str]) -> int:
    """Write rows as csv, json or jsonl as they come; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: csv_cell(value) for key, value in _cells(row).items()})
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        # A JSON array, streamed: "[", rows joined by ",", "]".
        out.write("[")
        for row in rows:
            out.write(("\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
            count += 1
        out.write("\n]\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count


def write_field_table(rows: Iterable[dict[str, Any]], out: TextIO, fields: Sequence[str]) -> int:
    """An aligned table of the chosen fields for one page (the default table is write_table)."""
    cells = [
        [" ".join(printable(str(_cells(row)[name] or "")).split())[:TABLE_CELL] for name in fields]
        for row in rows
    ]
    header = [name.upper() for name in fields]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(fields))]
    for line in [header, *cells]:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            + "\n"
        )
    return len(cells)


def _cells(row: dict[str, Any]) -> dict[str, Any]:
    """A row for one-cell formats: each value as its field renders it in a cell."""
    return {name: FIELD[name].cell(value) for name, value in row.items()}


def write_table(items: Iterable[StoredItem], out: TextIO) -> None:
    """The default table, a row per item as they come."""
    width = shutil.get_terminal_size((120, 24)).columns
    title_width = max(20, width - 60)
    written = 0
    for item in items:
        if not written:
            out.write(
                f"{'ID':>6}  {'DATE':<10}  {'SOURCE':<14}  {'TITLE':<{title_width}}  KEYWORDS\n"
            )
        written += 1
        when = (item.published_at or item.fetched_at).strftime("%Y-%m-%d")
        title = _one_line(item.title or item.url)
        if len(title) > title_width:
            title = title[: title_width - 1] + "…"
        keywords = printable(",".join(item.keywords))
        source = printable(item.source_name)[:14]
        out.write(f"{item.id:>6}  {when:<10}  {source:<14}  {title:<{title_width}}  {keywords}\n")
    if not written:
        out.write("no items\n")


def write_item(item: StoredItem, out: TextIO) -> None:
    from storage.search import Hit

    hit = Hit(item)
    for name in SHOWN_FIELDS:
        value = FIELD[name].read(hit)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        if value:
            out.write(f"{name + ':':<14} {printable(str(value))}\n")
    out.write(f"{'id:':<14} {item.id}\n")
    if item.matches:
        out.write(f"\nkeywords ({len(item.matches)} matches):\n")
        for match in item.matches:
            context = printable(plain_snippet(item.context(match)) or "")
            out.write(f"  {printable(match.keyword)} [{match.field}]: {context}\n")
    else:
        out.write("\nkeywords: none\n")
    spans = [(m.start, m.end) for m in item.matches if m.field == "text"]
    out.write("\n" + highlight(item.text, spans, ansi=out.isatty()) + "\n")


def highlight(text: str, spans: Sequence[tuple[int, int]], *, ansi: bool = False) -> str:
    """`text` with every span marked »like this« (reverse video on a terminal); overlaps merge."""
    opening, closing = ("\x1b[7m", "\x1b[0m") if ansi else ("»", "«")
    merged = merge_spans(spans)
    pieces, last = [], 0
    for start, end in merged:  # sliced by the stored offsets first, then made printable
        pieces += [printable(text[last:start]), opening, printable(text[start:end]), closing]
        last = end
    return "".join(pieces) + printable(text[last:])


def _one_line(text: str) -> str:
    # One printable line, its edge spaces kept.
    collapsed = " ".join(printable(text).split())
    if text[:1].isspace():
        collapsed = " " + collapsed
    if text[-1:].isspace() and collapsed.strip():
        collapsed += " "
    return collapsed
