"""Table data of the stand-in: an in-memory DuckDB table per Pinot table.

Rows carry three hidden columns: ``__doc`` (ingestion order), ``__valid``
(false for a row an upsert replaced, as Pinot's valid-doc bitmap) and
``__segment``. Segments follow Pinot's low-level consumer: one consuming
segment per stream partition, sealed after ``flush_rows`` rows; retention
deletes only sealed segments whose newest row is older than the retention.
Upsert and dedup metadata are kept per partition, as on a Pinot server, so a
producer that does not key by the primary key gets Pinot's inconsistencies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from tests.pinot_standin.model import FieldSpec, Schema, TableModel

__all__ = ["Segment", "TableData", "Storage", "quote"]

_DUCK_TYPES = {
    "INT": "INTEGER", "LONG": "BIGINT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "BIG_DECIMAL": "VARCHAR",
    "BOOLEAN": "BOOLEAN", "TIMESTAMP": "BIGINT", "STRING": "VARCHAR", "JSON": "VARCHAR", "BYTES": "BLOB",
}
_ARROW_TYPES = {
    "INT": pa.int32(), "LONG": pa.int64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(),
    "BIG_DECIMAL": pa.string(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.int64(), "STRING": pa.string(),
    "JSON": pa.string(), "BYTES": pa.binary(),
}


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _duck_type(spec: FieldSpec) -> str:
    base = _DUCK_TYPES[spec.data_type]
    return base if spec.single_value else f"{base}[]"


def _arrow_type(spec: FieldSpec) -> pa.DataType:
    base = _ARROW_TYPES[spec.data_type]
    return base if spec.single_value else pa.list_(base)


@dataclass
class Segment:
    name: str
    partition: int
    consuming: bool = True
    docs: int = 0
    start_ms: int | None = None
    end_ms: int | None = None

    def add(self, ts: int | None) -> None:
        self.docs += 1
        if ts is not None:
            self.start_ms = ts if self.start_ms is None else min(self.start_ms, ts)
            self.end_ms = ts if self.end_ms is None else max(self.end_ms, ts)


@dataclass
class _Upsert:
    comparison: tuple[Any, ...]
    doc: int
    segment: str


@dataclass
class TableData:
    table: TableModel
    schema: Schema
    duck_name: str
    segments: dict[str, Segment] = field(default_factory=dict)
    consuming: dict[int, Segment] = field(default_factory=dict)
    upserts: dict[int, dict[tuple[Any, ...], _Upsert]] = field(default_factory=dict)
    dedup: dict[int, dict[tuple[Any, ...], str]] = field(default_factory=dict)
    next_doc: int = 0
    dropped: list[str] = field(default_factory=list)  # why records were dropped
    last_ingested_ms: int = 0
    routable_at: float = 0.0  # time.monotonic() before which the broker has no route (410)

    def segment_for(self, partition: int) -> Segment:
        segment = self.consuming.get(partition)
        if segment is None:
            seq = sum(1 for s in self.segments.values() if s.partition == partition)
            stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime())
            segment = Segment(f"{self.table.name}__{partition}__{seq}__{stamp}", partition)
            self.segments[segment.name] = segment
            self.consuming[partition] = segment
        return segment

    def primary_key(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(_hashable(row[c]) for c in self.schema.primary_key)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Storage:
    """All tables of one stand-in; ``lock`` guards the table metadata.

    DuckDB runs on one worker thread of its own: called from the HTTP server's
    daemon threads, it leaves objects alive at interpreter exit.
    """

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pinot-standin-duckdb")
        self._conn = self._worker.submit(duckdb.connect, ":memory:").result()
        self.lock = threading.RLock()
        self._tables: dict[str, TableData] = {}
        self._counter = 0

    def fetch(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement on the DuckDB thread; its rows."""
        return self._worker.submit(lambda: self._conn.execute(sql, params).fetchall()).result()

    def get(self, raw_name: str) -> TableData | None:
        """Case-insensitive, and ``x_REALTIME`` resolves to ``x``, as on the broker."""
        lowered = raw_name.lower()
        if lowered.endswith("_realtime"):
            lowered = lowered[: -len("_realtime")]
        return self._tables.get(lowered)

    def create(self, table: TableModel, schema: Schema) -> TableData:
        with self.lock:
            self._counter += 1
            data = TableData(table, schema, f"t{self._counter}")
            columns = [f"{quote(f.name)} {_duck_type(f)}" for f in schema.fields]
            columns += ['"__doc" BIGINT', '"__valid" BOOLEAN', '"__segment" VARCHAR']
            self.fetch(f"CREATE TABLE {data.duck_name} ({', '.join(columns)})")
            self._tables[table.name.lower()] = data
            return data

    def update_config(self, table: TableModel, schema: Schema) -> None:
        """A new table config or schema; columns a schema adds are null in existing rows."""
        with self.lock:
            data = self._tables[table.name.lower()]
            for spec in schema.fields:
                if data.schema.field(spec.name) is None:
                    self.fetch(f"ALTER TABLE {data.duck_name} ADD COLUMN {quote(spec.name)} {_duck_type(spec)}")
            data.table, data.schema = table, schema

    def drop(self, raw_name: str) -> None:
        with self.lock:
            data = self._tables.pop(raw_name.lower(), None)
            if data is not None:
                self.fetch(f"DROP TABLE {data.duck_name}")

    def ingest(self, data: TableData, partition: int, rows: Sequence[dict[str, Any]]) -> None:
        """Index rows of one partition in order: dedup, upsert, segment bookkeeping."""
        with self.lock:
            if self._tables.get(data.table.name.lower()) is not data:
                return  # the table was deleted while the batch was in flight
            kept, invalidated = self._index(data, partition, rows)
            if kept:
                self._insert(data, kept)
            if invalidated:  # after the insert: a replaced row may be from this very batch
                marks = ",".join(str(d) for d in invalidated)
                self.fetch(f'UPDATE {data.duck_name} SET "__valid" = false WHERE "__doc" IN ({marks})')
            data.last_ingested_ms = time.time_ns() // 1_000_000

    def _index(self, data: TableData, partition: int, rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
        kept: list[dict[str, Any]] = []
        invalidated: list[int] = []
        flush_rows = data.table.stream.flush_rows
        for row in rows:
            segment = data.segment_for(partition)
            if data.table.dedup:
                seen = data.dedup.setdefault(partition, {})
                key = data.primary_key(row)
                if key in seen:
                    continue  # dedup drops the record at ingestion
                seen[key] = segment.name
            stored = {**row, "__doc": data.next_doc, "__valid": True, "__segment": segment.name}
            data.next_doc += 1
            if data.table.upsert_comparison is not None:
                self._upsert(data, partition, stored, invalidated)
            segment.add(row.get(data.table.time_column))
            kept.append(stored)
            if flush_rows > 0 and segment.docs >= flush_rows:
                segment.consuming = False
                del data.consuming[partition]
        return kept, invalidated

    @staticmethod
    def _upsert(data: TableData, partition: int, stored: dict[str, Any], invalidated: list[int]) -> None:
        meta = data.upserts.setdefault(partition, {})
        key = data.primary_key(stored)
        comparison = tuple(stored[c] for c in data.table.upsert_comparison or ())
        current = meta.get(key)
        if current is not None and comparison < current.comparison:
            stored["__valid"] = False  # older than what is stored: kept, never visible
            return
        if current is not None:
            invalidated.append(current.doc)
        meta[key] = _Upsert(comparison, stored["__doc"], stored["__segment"])

    def _insert(self, data: TableData, rows: list[dict[str, Any]]) -> None:
        fields = list(data.schema.fields)
        arrays = [pa.array([r[f.name] for r in rows], type=_arrow_type(f)) for f in fields]
        arrays += [
            pa.array([r["__doc"] for r in rows], type=pa.int64()),
            pa.array([r["__valid"] for r in rows], type=pa.bool_()),
            pa.array([r["__segment"] for r in rows], type=pa.string()),
        ]
        names = [f.name for f in fields] + ["__doc", "__valid", "__segment"]
        batch = pa.Table.from_arrays(arrays, names=names)
        columns = ", ".join(quote(n) for n in names)
        self._worker.submit(self._insert_arrow, data.duck_name, columns, batch).result()

    def _insert_arrow(self, duck_name: str, columns: str, batch: pa.Table) -> None:
        self._conn.register("incoming_batch", batch)
        try:
            self._conn.execute(f"INSERT INTO {duck_name} ({columns}) SELECT * FROM incoming_batch")
        finally:
            self._conn.unregister("incoming_batch")

    def run_retention(self, data: TableData, now_ms: int) -> list[str]:
        """Delete sealed segments entirely older than the retention; return their names."""
        if data.table.retention_ms is None:
            return []
        cutoff = now_ms - data.table.retention_ms
        with self.lock:
            expired = [s.name for s in data.segments.values()
                       if not s.consuming and s.end_ms is not None and s.end_ms < cutoff]
            for name in expired:
                self.fetch(f'DELETE FROM {data.duck_name} WHERE "__segment" = ?', [name])
                del data.segments[name]
            gone = set(expired)
            for meta in data.dedup.values():
                for key in [k for k, seg in meta.items() if seg in gone]:
                    del meta[key]
            for upserts in data.upserts.values():
                for key in [k for k, u in upserts.items() if u.segment in gone]:
                    del upserts[key]
            return expired

    def all_tables(self) -> list[TableData]:
        return list(self._tables.values())

    def close(self) -> None:
        with self.lock:
            self._tables.clear()
            self._worker.submit(self._conn.close).result()
            self._worker.shutdown()
