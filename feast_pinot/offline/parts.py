"""The Parquet parts of an offline action log.

A log is a folder (a ``FileSource`` path, relative to the feature repo) of
part files, one folder per event date:
``date=YYYY-MM-DD/part-<write ns>-<uuid>.parquet``. A part is written to a
temporary name and renamed, so a reader never sees half a file, and part names
start with the write time, so sorting them by name gives the write order that
the "first copy written counts" rule of an ``action_id`` needs.

Used by the Feast offline store (pushes to the offline store), the ingester's
offline sink and both offline engines; it imports neither Feast's offline store nor DuckDB.
"""

from __future__ import annotations

import glob
import os
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feast_pinot.errors import ActionValidationError, OfflineStoreError, OfflineWriteError
from feast_pinot.specs import ActionLogSpec

__all__ = ["action_log_columns", "log_parts", "part_schema", "resolve_path", "write_action_parts"]


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


def write_action_parts(root: str, table: pa.Table, spec: ActionLogSpec) -> list[Path]:
    """Append actions to the offline log as one Parquet part per event date.

    An I/O failure raises :class:`OfflineWriteError` (an ``OSError``) naming the
    parts written before it.
    """
    table = _check_parts(table, spec)
    if table.num_rows == 0:
        return []
    dates = pc.strftime(table.column("event_timestamp"), format="%Y-%m-%d").to_pylist()
    written: list[Path] = []
    stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
    days = sorted(set(dates))
    try:
        for date in days:
            mask = pa.array([d == date for d in dates])
            folder = Path(root) / f"date={date}"
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / f"part-{stamp}.parquet"
            temp = folder / f".{final.name}.tmp"
            pq.write_table(table.filter(mask), temp)
            os.replace(temp, final)
            written.append(final)
    except OSError as exc:
        done = ", ".join(map(str, written)) or "none"
        raise OfflineWriteError(
            f"writing {table.num_rows} action(s) of '{spec.name}' to {root} failed at part {len(written) + 1} "
            f"of {len(days)} (parts written before: {done}): {exc}", tuple(map(str, written))) from exc
    return written


def log_parts(root: str) -> list[str]:
    """The log's Parquet parts in write order (part names start with the write time)."""
    found = glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True)
    return sorted(sorted(found), key=os.path.basename)
