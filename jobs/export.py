"""Writing item rows as parquet, in row groups (bounded memory); needs the parquet extra.

The columns and their types come from the field table in jobs/output.py, which also writes
csv, json and jsonl.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from jobs.output import FIELD
from storage.clock import to_utc

PARQUET_BATCH = 1000


class ExportError(RuntimeError):
    """The export cannot run as asked (e.g. parquet without pyarrow)."""


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
    kind = FIELD[name].kind
    if kind == "int":
        return pa.int64()
    if kind == "list":
        return pa.list_(pa.string())
    if kind == "time":
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _arrow_table(pa: Any, batch: list[dict[str, Any]], schema: Any) -> Any:

    columns = {}
    for name in schema.names:
        values = [row.get(name) for row in batch]
        if FIELD[name].kind == "time":
            values = [to_utc(value) if value else None for value in values]
        columns[name] = values
    return pa.Table.from_pydict(columns, schema=schema)
