"""The one way the offline engines open DuckDB, and the SQL pieces they share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from feast_pinot.errors import OfflineStoreError

__all__ = ["epoch_ms_sql", "session", "sql_literal"]


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
