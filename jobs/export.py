"""Writing item rows as parquet, in row groups (bounded memory; needs the parquet extra), and
archived pages as WARC (warcio).

The columns and their types come from the field table in jobs/output.py, which also writes
csv, json and jsonl.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.output import FIELD
from storage.clock import to_utc

if TYPE_CHECKING:
    from storage.archive import StoredPage

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
    if kind == "bool":
        return pa.bool_()
    return pa.string()


def _arrow_table(pa: Any, batch: list[dict[str, Any]], schema: Any) -> Any:

    columns = {}
    for name in schema.names:
        values = [row.get(name) for row in batch]
        if FIELD[name].kind == "time":
            values = [to_utc(value) if value else None for value in values]
        columns[name] = values
    return pa.Table.from_pydict(columns, schema=schema)


def write_warc(pages: Iterable[StoredPage], path: Path) -> int:
    """A gzipped WARC file: a warcinfo record, then one response record per archived page,
    with the headers and body as archived and WARC-Date its fetch time. Returns the pages."""
    from http import HTTPStatus
    from importlib.metadata import version
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.timeutils import datetime_to_iso_date
    from warcio.warcwriter import WARCWriter

    count = 0
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="1.1")
        info = {"software": f"newsmon/{version('newsmon')}", "format": "WARC File Format 1.1"}
        writer.write_record(writer.create_warcinfo_record(path.name, info))
        for stored in pages:
            page = stored.page
            body = page.unpacked()
            try:
                reason = HTTPStatus(page.status).phrase
            except ValueError:
                reason = "Unknown"
            # The body is stored decoded, so it goes out without a content coding and with
            # its own length (the archive dropped Content-Encoding and Content-Length).
            headers = [*page.headers, ("Content-Length", str(len(body)))]
            http_headers = StatusAndHeaders(f"{page.status} {reason}", headers, protocol="HTTP/1.1")
            # warcio writes naive datetimes as UTC: an aware one would be formatted wrong.
            fetched = to_utc(page.fetched_at).replace(tzinfo=None)
            record = writer.create_warc_record(
                page.url,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": datetime_to_iso_date(fetched)},
            )
            writer.write_record(record)
            count += 1
    return count
