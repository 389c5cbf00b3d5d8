"""The Parquet parts of an offline action log.

A log is a folder (a ``FileSource`` path, relative to the feature repo, or a
URI such as ``s3://bucket/log``: :mod:`feast_pinot.offline.storage`) of part
files, one folder per event date:
``date=YYYY-MM-DD/part-<write ns>-<uuid>.parquet``. A part is written whole
(:meth:`~feast_pinot.offline.storage.LogStore.write_whole`), so a reader never
sees half a file, and part names start with the write time, so sorting them by
name gives the write order that the "first copy written counts" rule of an
``action_id`` needs.

Used by the Feast offline store (pushes to the offline store), the ingester's
offline sink and both offline engines; it imports neither Feast's offline store nor DuckDB.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feast_pinot.errors import ActionValidationError, OfflineStoreError, OfflineWriteError
from feast_pinot.offline.storage import LogStore, open_log
from feast_pinot.specs import ActionLogSpec

__all__ = ["LogParts", "action_log_columns", "list_parts", "log_parts", "part_bytes", "part_name", "part_schema",
           "resolve_path", "write_action_parts"]


def resolve_path(repo_path: str | Path | None, path: str) -> str:
    """A FileSource path as Feast's docs define it: relative to the feature repo."""
    if "://" in path or os.path.isabs(path) or repo_path is None:
        return path
    return str(Path(repo_path) / path)


def action_log_columns(spec: ActionLogSpec) -> dict[str, str]:
    """The columns (and Arrow types) of an action log's Parquet parts."""
    return {field.name: str(field.type) for field in part_schema(spec)}


def part_schema(spec: ActionLogSpec) -> pa.Schema:
    """The Arrow schema every part of the log is written with."""
    fields = [
        pa.field(spec.actor_join_key, pa.int64() if spec.actor_is_int else pa.string(), False),
        pa.field("action_id", pa.string(), False),
        pa.field("verb", pa.string(), False),
        pa.field("object", pa.string(), False),
        pa.field("attributes", pa.string()),
        pa.field("event_timestamp", pa.timestamp("ms", tz="UTC"), False),
    ]
    if spec.embedding_dim:
        fields.append(pa.field("embedding", pa.list_(pa.float32())))
    return pa.schema(fields)


def _check_parts(table: pa.Table, spec: ActionLogSpec) -> pa.Table:
    schema = part_schema(spec)
    try:
        table = table.select(schema.names).cast(schema)
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise OfflineStoreError(f"actions for '{spec.name}' do not match its columns: {exc}") from exc
    verbs = table.column("verb").to_pylist()
    problems = [(i, f"unknown verb {v!r}") for i, v in enumerate(verbs) if v not in spec.verbs]
    if spec.embedding_dim:
        sizes = pc.list_value_length(table.column("embedding")).to_pylist()  # None for a null list
        problems += [
            (i, f"embedding must have {spec.embedding_dim} floats")
            for i, size in enumerate(sizes) if size != spec.embedding_dim
        ]
    if problems:
        raise ActionValidationError(sorted(problems))
    return table


def part_name(stamp_ns: int) -> str:
    """A part's file name: the write time first, so names sort in write order."""
    return f"part-{stamp_ns:020d}-{uuid.uuid4().hex[:12]}.parquet"


def part_bytes(table: pa.Table) -> pa.Buffer:
    """A part's Parquet bytes, made in memory so the part is stored in one piece."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_action_parts(root: str, table: pa.Table, spec: ActionLogSpec) -> list[str]:
    """Append actions to the offline log as one Parquet part per event date.

    An I/O failure raises :class:`OfflineWriteError` (an ``OSError``) naming the
    parts written before it.
    """
    table = _check_parts(table, spec)
    if table.num_rows == 0:
        return []
    dates = pc.strftime(table.column("event_timestamp"), format="%Y-%m-%d").to_pylist()
    store = open_log(root)
    written: list[str] = []
    name = part_name(time.time_ns())
    days = sorted(set(dates))
    try:
        for date in days:
            mask = pa.array([d == date for d in dates])
            final = store.path(f"date={date}", name)
            store.write_whole(final, part_bytes(table.filter(mask)))
            written.append(final)
    except OSError as exc:
        done = ", ".join(written) or "none"
        raise OfflineWriteError(
            f"writing {table.num_rows} action(s) of '{spec.name}' to {store.shown} failed at part "
            f"{len(written) + 1} of {len(days)} (parts written before: {done}): {exc}", tuple(written)) from exc
    return written


@dataclass(frozen=True)
class LogParts:
    """A log's Parquet parts in write order, and the store that holds them."""

    store: LogStore
    paths: list[str]

    def __bool__(self) -> bool:
        return bool(self.paths)


def list_parts(store: LogStore) -> list[str]:
    """The Parquet parts under the store's root in write order (part names start with the write time)."""
    root = store.root.rstrip("/")
    found = [info.path for info in store.files(store.root, ".parquet")
             if not _hidden(info.path[len(root):])]
    return sorted(found, key=_basename)  # the listing is sorted by path already: ties keep a fixed order


def _hidden(below_root: str) -> bool:
    """A temporary file, or one in a folder that is not the log's (``_ingest_offsets``): a name in the
    path that starts with ``.`` or ``_`` (the files Spark's listing skips too)."""
    return any(name.startswith((".", "_")) for name in below_root.replace(os.sep, "/").split("/"))


def log_parts(root: str) -> LogParts:
    """The log's Parquet parts in write order, with their store."""
    store = open_log(root)
    return LogParts(store, list_parts(store))


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
