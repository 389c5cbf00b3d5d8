"""The one way the offline engines open DuckDB, and the SQL pieces they share."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline.parts import LogParts

__all__ = ["epoch_ms_sql", "parts_sql", "session", "sql_literal"]


@contextmanager
def session(doing: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory connection in UTC, closed afterwards.

    DuckDB's errors inside the block become an :class:`OfflineStoreError`
    saying "<doing> failed".
    """
    con = duckdb.connect()
    try:
        # a zone-less Parquet timestamp cast to TIMESTAMPTZ is read in the session
        # zone: UTC, as pandas and Feast mean it
        con.execute("SET TimeZone = 'UTC'")
        yield con
    except duckdb.Error as exc:
        raise OfflineStoreError(f"{doing} failed: {exc}") from exc
    finally:
        con.close()


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def epoch_ms_sql(column: str) -> str:
    """Epoch ms of a Parquet timestamp of any precision and zone.

    pandas writes nanoseconds by default, and DuckDB 2 has no ``epoch_ms`` for
    nanosecond time zones; as TIMESTAMPTZ (microseconds, UTC session) every
    DuckDB version takes it, and milliseconds lose nothing.
    """
    return f'epoch_ms(CAST("{column}" AS TIMESTAMPTZ))'


def parts_sql(con: duckdb.DuckDBPyConnection, parts: LogParts) -> str:
    """A SQL table expression of the parts' rows with ``filename`` and ``file_row_number`` (union by name).

    Local parts are DuckDB's ``read_parquet``. Parts on another filesystem are
    read by pyarrow (DuckDB's S3 extension is a download at first use, which
    a locked-down cluster cannot make) into one Arrow table with the same two
    columns, registered in ``con``.
    """
    if parts.store.local:
        files = "[" + ", ".join(map(sql_literal, parts.paths)) + "]"
        return f"read_parquet({files}, filename = true, file_row_number = true, union_by_name = true)"
    with ThreadPoolExecutor() as pool:
        tables = list(pool.map(lambda path: _with_origin(parts, path), parts.paths))
    try:
        con.register("log_parts", pa.concat_tables(tables, promote_options="default"))
    except pa.ArrowInvalid as exc:
        raise OfflineStoreError(f"the parts under {parts.store.shown} do not share their columns' types: {exc}") \
            from exc
    return "log_parts"


def _with_origin(parts: LogParts, path: str) -> pa.Table:
    try:
        table = pq.read_table(path, filesystem=parts.store.fs)
    except OSError as exc:
        raise OfflineStoreError(f"reading {path} of {parts.store.shown}: {exc}") from exc
    rows = table.num_rows
    return table.append_column("filename", pa.array([path] * rows, pa.string())) \
        .append_column("file_row_number", pa.array(np.arange(rows, dtype=np.int64)))
