"""Writing item rows as csv, json, jsonl or parquet, one row at a time (bounded memory)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from jobs.output import ROW_FIELDS, csv_cell, item_row, printable
from storage.clock import to_utc
from storage.search import Hit, plain_snippet

# Every field a row can carry, in output order; --fields picks from these.
ALL_FIELDS = [
    "id",
    "url",
    "source",
    "title",
    "author",
    "published_at",
    "date_source",
    "fetched_at",
    "language",
    "site_name",
    "canonical_url",
    "keywords",
    "duplicate_of",
    "snippet",
    "text",
]
LIST_FIELDS = {"keywords"}
INT_FIELDS = {"id", "duplicate_of"}
TIME_FIELDS = {"published_at", "fetched_at"}
PARQUET_BATCH = 1000
TABLE_CELL = 70


class ExportError(RuntimeError):
    """The export cannot run as asked (e.g. parquet without pyarrow)."""


def parse_fields(value: str | None) -> list[str] | None:
    """`a,b,c` as a list of known field names, or ValueError naming the unknown ones."""
    if not value:
        return None
    fields = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in fields if name not in ALL_FIELDS]
    if unknown or not fields:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ALL_FIELDS)}"
        )
    return fields


def default_fields(fmt: str, *, searching: bool) -> list[str]:
    """csv and table stay narrow (no text); json, jsonl and parquet carry everything."""
    if fmt in ("csv", "table"):
        fields = list(ROW_FIELDS)
        return [*fields, "snippet"] if searching else fields
    return [name for name in ALL_FIELDS if searching or name != "snippet"]


def hit_row(hit: Hit, fields: Sequence[str]) -> dict[str, Any]:
    row = item_row(hit.item, with_text="text" in fields)
    row["snippet"] = plain_snippet(hit.snippet)
    row["duplicate_of"] = hit.item.duplicate_of
    return {name: row.get(name) for name in fields}


def rows(hits: Iterable[Hit], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
    return (hit_row(hit, fields) for hit in hits)


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO, fields: Sequence[str]) -> int:
    """Write rows as csv, json or jsonl as they come; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: csv_cell(value) for key, value in _flat(row).items()})
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


def write_table(rows: Iterable[dict[str, Any]], out: TextIO, fields: Sequence[str]) -> int:
    """An aligned table of the chosen fields for one page (the default table is jobs/output.py)."""
    cells = [
        [" ".join(printable(str(_flat(row)[name] or "")).split())[:TABLE_CELL] for name in fields]
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


def write_parquet(rows: Iterable[dict[str, Any]], path: Path, fields: Sequence[str]) -> int:
    """A parquet file written in row groups of PARQUET_BATCH rows; needs pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(
            "parquet export needs pyarrow: pip install 'newsmon[parquet]'"
            " (or use --format jsonl or csv)"
        ) from None
    schema = pa.schema([(name, _arrow_type(pa, name)) for name in fields])
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= PARQUET_BATCH:
                writer.write_table(_arrow_table(pa, batch, schema))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(_arrow_table(pa, batch, schema))
            count += len(batch)
    return count


def _arrow_type(pa: Any, name: str) -> Any:
    if name in INT_FIELDS:
        return pa.int64()
    if name in LIST_FIELDS:
        return pa.list_(pa.string())
    if name in TIME_FIELDS:
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _arrow_table(pa: Any, batch: list[dict[str, Any]], schema: Any) -> Any:

    columns = {}
    for name in schema.names:
        values = [row.get(name) for row in batch]
        if name in TIME_FIELDS:
            values = [to_utc(value) if value else None for value in values]
        columns[name] = values
    return pa.Table.from_pydict(columns, schema=schema)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """Lists joined with ';' for one-cell formats."""
    return {
        key: ";".join(value) if isinstance(value, list) else value for key, value in row.items()
    }
