"""Copying a whole newsmon store into another database (SQLite -> PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, Integer, Table, func, select, text

from storage.db import SchemaError, current_revision, dialect_insert
from storage.models import Base

BATCH_ROWS = 1000


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    copied: int


Progress = Callable[[str, int, int], None]


def copy_store(
    source: Engine, target: Engine, progress: Progress | None = None, batch: int = BATCH_ROWS
) -> list[TableCopy]:
    """Copy every newsmon table from `source` to `target`, parents before children.

    Rows keep their ids, so links between tables survive; rows already in the target are
    skipped, so an interrupted copy can simply be run again.
    """
    source_revision, target_revision = current_revision(source), current_revision(target)
    if source_revision != target_revision:
        raise SchemaError(
            f"the source database is at schema revision {source_revision}, the target at"
            f" {target_revision}; run `newsmon db upgrade` on both first"
        )
    insert = dialect_insert(target)
    copies = []
    for table in Base.metadata.sorted_tables:
        with source.connect() as reading:
            total = reading.scalar(select(func.count()).select_from(table)) or 0
            copied, done = 0, 0
            rows = reading.execution_options(yield_per=batch).execute(
                select(table).order_by(*table.primary_key)
            )
            for chunk in rows.partitions(batch):
                with target.begin() as writing:
                    result = writing.execute(
                        insert(table).on_conflict_do_nothing().returning(*table.primary_key),
                        [dict(row._mapping) for row in chunk],
                    )
                    copied += len(result.all())
                done += len(chunk)
                if progress:
                    progress(table.name, done, total)
        _advance_sequence(target, table)
        copies.append(TableCopy(table.name, total, copied))
    return copies


def _advance_sequence(engine: Engine, table: Table) -> None:
    # Rows came in with explicit ids: move PostgreSQL's id sequence past them.
    id_column = table.columns.get("id")
    if (
        engine.dialect.name != "postgresql"
        or id_column is None
        or not isinstance(id_column.type, Integer)
    ):
        return
    with engine.begin() as connection:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
