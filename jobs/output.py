"""Rendering stored items for the terminal and for scripts (table, json, jsonl, csv).

Scraped text is untrusted here too: what goes to a terminal loses its control characters (an
author of "\x1b]0;…\x07\x1b[2J" would retitle and clear the screen), and a CSV cell that a
spreadsheet would run as a formula is quoted with a leading '.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from storage.search import StoredItem

ROW_FIELDS = [
    "id",
    "url",
    "source",
    "title",
    "author",
    "published_at",
    "fetched_at",
    "language",
    "keywords",
]
CONTEXT_CHARS = 80
# C0 controls but tab and newline, DEL, and C1 controls (0x9b is CSI to many terminals).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t")


def printable(text: str) -> str:
    """`text` without control characters, for a terminal."""
    return CONTROL_CHARACTERS.sub("", text)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: printable, and never taken for a formula by a spreadsheet."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def item_row(item: StoredItem, *, with_text: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "source": item.source_name,
        "title": item.title,
        "author": item.author,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "date_source": item.date_source,
        "fetched_at": item.fetched_at.isoformat(),
        "language": item.language,
        "site_name": item.site_name,
        "canonical_url": item.canonical_url,
        "keywords": item.keywords,
    }
    if with_text:
        row["text"] = item.text
    return row


def write_items(items: Sequence[StoredItem], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump(
            [item_row(item, with_text=True) for item in items], out, ensure_ascii=False, indent=2
        )
        out.write("\n")
    elif fmt == "jsonl":
        for item in items:
            out.write(json.dumps(item_row(item, with_text=True), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for item in items:
            row = item_row(item, with_text=False)
            row["keywords"] = ";".join(row["keywords"])
            writer.writerow({key: csv_cell(value) for key, value in row.items()})
    else:
        write_table(items, out)


def write_table(items: Sequence[StoredItem], out: TextIO) -> None:
    if not items:
        out.write("no items\n")
        return
    width = shutil.get_terminal_size((120, 24)).columns
    title_width = max(20, width - 60)
    out.write(f"{'ID':>6}  {'DATE':<10}  {'SOURCE':<14}  {'TITLE':<{title_width}}  KEYWORDS\n")
    for item in items:
        when = (item.published_at or item.fetched_at).strftime("%Y-%m-%d")
        title = _one_line(item.title or item.url)
        if len(title) > title_width:
            title = title[: title_width - 1] + "…"
        keywords = printable(",".join(item.keywords))
        source = printable(item.source_name)[:14]
        out.write(f"{item.id:>6}  {when:<10}  {source:<14}  {title:<{title_width}}  {keywords}\n")


def write_item(item: StoredItem, out: TextIO) -> None:
    row = item_row(item, with_text=False)
    for field in (
        "title",
        "url",
        "source",
        "author",
        "published_at",
        "date_source",
        "fetched_at",
        "language",
        "site_name",
        "canonical_url",
    ):
        if row[field]:
            out.write(f"{field + ':':<14} {printable(str(row[field]))}\n")
    out.write(f"{'id:':<14} {item.id}\n")
    if item.matches:
        out.write(f"\nkeywords ({len(item.matches)} matches):\n")
        for match in item.matches:
            field_text = (item.title or "") if match.field == "title" else item.text
            context = in_context(field_text, match.start, match.end)
            out.write(f"  {printable(match.keyword)} [{match.field}]: {context}\n")
    else:
        out.write("\nkeywords: none\n")
    spans = [(m.start, m.end) for m in item.matches if m.field == "text"]
    out.write("\n" + highlight(item.text, spans, ansi=out.isatty()) + "\n")


def highlight(text: str, spans: Sequence[tuple[int, int]], *, ansi: bool = False) -> str:
    """`text` with every span marked »like this« (reverse video on a terminal); overlaps merge."""
    opening, closing = ("\x1b[7m", "\x1b[0m") if ansi else ("»", "«")
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, last = [], 0
    for start, end in merged:  # sliced by the stored offsets first, then made printable
        pieces += [printable(text[last:start]), opening, printable(text[start:end]), closing]
        last = end
    return "".join(pieces) + printable(text[last:])


def in_context(text: str, start: int, end: int, around: int = CONTEXT_CHARS) -> str:
    """The match with some text either side, the match itself marked »like this«."""
    before = _one_line(text[max(0, start - around) : start])
    after = _one_line(text[end : end + around])
    lead = "…" if start > around else ""
    tail = "…" if end + around < len(text) else ""
    return f"{lead}{before}»{text[start:end]}«{after}{tail}"


def _one_line(text: str) -> str:
    # Keep edge spaces so the marked match stays separated from its neighbours.
    collapsed = " ".join(printable(text).split())
    if text[:1].isspace():
        collapsed = " " + collapsed
    if text[-1:].isspace() and collapsed.strip():
        collapsed += " "
    return collapsed
