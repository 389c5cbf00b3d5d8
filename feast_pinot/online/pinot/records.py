"""Backend rows <-> the JSON records Pinot ingests and the values its broker returns.

Writes are JSON objects whose keys are the table's columns; values Pinot's JSON
decoder cannot carry as-is are encoded the way its type conversion reads them
back: bytes as hex, datetimes as epoch ms, non-finite floats as "NaN" /
"Infinity" / "-Infinity" (JSON has no such numbers). Reads undo what the
broker does to values (pinotdb's conversions included): hex BYTES, naive UTC
TIMESTAMPs, non-finite floats sent as strings.

Pinot stores a missing value as its column's default (``"null"``,
``Integer.MIN_VALUE``, ``-Infinity``...) and an empty multi-value column as
``[default]``; Pinot 0.11 cannot send nulls back at the default data table
version. So a latest row also records which features hold a value
(``feast_present``) and which of them an empty list (``feast_empty``), and
reads trust those lists, not the stored defaults.

Pinot's ingestion cuts a STRING value at its first NUL character and past its
column's ``maxLength``, and its SQL cannot match a value holding ``''`` (see
:mod:`~feast_pinot.online.pinot.sql`): such values are refused here, naming
the column, before anything is produced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from feast_pinot.actions import Action, datetime_to_ms
from feast_pinot.online.backend import History, LatestRow
from feast_pinot.online.json_values import dumps, loads
from feast_pinot.online.pinot.errors import PinotActionError, PinotValueError, PinotWriteError
from feast_pinot.online.pinot.layout import ATTRIBUTE_COLUMNS, EMBEDDING, EMPTY, EVENT_MS, KEY, PRESENT, WRITE_ID
from feast_pinot.online.pinot.sql import matchable

__all__ = ["action_records", "decode_history", "decode_latest", "java_length", "latest_record"]

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def java_length(text: str) -> int:
    """Length in UTF-16 code units, as Pinot's ``maxLength`` counts."""
    return len(text.encode("utf-16-le")) // 2


def _checked(column: str, text: str, max_length: int) -> str:
    if "\0" in text:
        raise PinotWriteError(f"column {column!r}: a value holds a NUL character at position {text.index(chr(0))}; "
                              "Pinot cuts STRING values at the first NUL")
    if java_length(text) > max_length:
        raise PinotWriteError(f"column {column!r}: a value of {java_length(text)} characters exceeds "
                              f"maxLength {max_length}; Pinot would truncate it (raise max_string_length)")
    return text


def _queried(column: str, text: str, max_length: int) -> str:
    """A value reads look up by equality (``action_id``, a STRING ``actor``): stored intact and matchable."""
    try:
        return _checked(column, matchable(text), max_length)
    except PinotValueError as exc:
        raise PinotWriteError(f"column {column!r}: {exc}") from exc


def _encode(column: str, value: Any, max_length: int) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, datetime):
        return datetime_to_ms(value)
    if isinstance(value, str):
        return _checked(column, value, max_length)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_encode(column, v, max_length) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def latest_record(row: LatestRow, write_id: str, max_length: int, json_columns: frozenset[str]) -> dict[str, Any]:
    """The record of one row; features in ``json_columns`` go as ``{"v": value}`` (see :func:`_json_feature`)."""
    record = {
        name: _json_feature(name, value) if name in json_columns else _encode(name, value, max_length)
        for name, value in row.values.items() if value is not None
    }
    record.update({
        KEY: _checked(KEY, row.key, max_length), EVENT_MS: row.event_ms, WRITE_ID: write_id,
        PRESENT: list(record), EMPTY: [name for name, value in record.items() if value == []],
    })
    return record


def _json_feature(column: str, value: Any) -> dict[str, str]:
    # As JSON text inside an object: Pinot 0.11's JSON decoder turns booleans nested in arrays into
    # strings, stores an empty JSON array as null, and takes a bare string as JSON text.
    try:
        return {"v": dumps(value)}
    except (TypeError, ValueError) as exc:
        raise PinotWriteError(f"column {column!r}: {exc}") from exc


def action_records(actions: Sequence[Action], max_length: int) -> list[dict[str, Any]]:
    """The records of all actions, or :class:`PinotActionError` naming every action Pinot would alter."""
    records, problems = [], []
    for index, action in enumerate(actions):
        try:
            records.append(_action_record(action, max_length))
        except PinotWriteError as exc:
            problems.append((index, str(exc)))
    if problems:
        raise PinotActionError(problems)
    return records


def _action_record(action: Action, max_length: int) -> dict[str, Any]:
    attributes = json.loads(action.attributes)
    record: dict[str, Any] = {
        "action_id": _queried("action_id", action.action_id, max_length),
        "actor": _queried("actor", action.actor, max_length) if isinstance(action.actor, str) else action.actor,
        "verb": _checked("verb", action.verb, max_length),
        "object": _checked("object", action.object, max_length),
        "timestamp": action.ts_ms,
    }
    record.update({column: attributes[column] for column in ATTRIBUTE_COLUMNS if column in attributes})
    if action.embedding is not None:
        # BYTES, float32 little-endian as hex: read back in one call (numpy), not as dim JSON numbers a row
        record[EMBEDDING] = np.asarray(action.embedding, dtype="<f4").tobytes().hex()
    return record


def _decode(value: Any, pinot_type: str) -> Any:
    if value is None:
        return None
    base = pinot_type.removesuffix("_ARRAY")
    if base != pinot_type:
        return [_decode(v, base) for v in value]
    if base in ("FLOAT", "DOUBLE") and isinstance(value, str):
        return _NON_FINITE[value]
    if base == "JSON":  # a feature held as JSON: pinotdb has parsed the column, the value is its text
        return loads(value["v"])
    if base == "BYTES":
        return bytes.fromhex(value)
    if base == "TIMESTAMP" and isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # Pinot sends UTC wall time; pinotdb parses it naive
    return value


_LATEST_META = frozenset({KEY, EVENT_MS, WRITE_ID, PRESENT, EMPTY})


def _feature(name: str, row: Mapping[str, Any], types: Mapping[str, str]) -> Any:
    if name not in (row[PRESENT] or ()):  # a record without the list (not ours) holds no feature
        return None  # Pinot holds its default null value here
    if name in (row[EMPTY] or ()):
        return []  # Pinot holds [default] here
    return _decode(row[name], types[name])


def decode_latest(row: Mapping[str, Any], types: Mapping[str, str]) -> LatestRow:
    values = {name: _feature(name, row, types) for name in row if name not in _LATEST_META}
    return LatestRow(row[KEY], int(row[EVENT_MS]), values)


def _embeddings(rows: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """The rows' embeddings as one (n, dim) float32 array; None unless every row holds one of one size.

    A BYTES column (hex) is decoded in one call. Action-log tables created
    before embeddings were BYTES hold a multi-value FLOAT column, which reads
    ``[-Infinity]`` (Pinot's null default) where a row has none.
    """
    values = [r[EMBEDDING] for r in rows]
    if all(isinstance(v, str) for v in values):
        if not values[0] or any(len(v) != len(values[0]) for v in values):
            return None
        return np.frombuffer(bytes.fromhex("".join(values)), dtype="<f4").reshape(len(values), -1).astype(np.float32)
    if any(v is None or (len(v) == 1 and v[0] in ("-Infinity", -math.inf)) for v in values):
        return None
    return np.asarray(values, dtype=np.float32)


def decode_history(rows: Sequence[Mapping[str, Any]]) -> History:
    """One actor's rows, already in history order."""
    if not rows:
        return History((), (), (), (), None)
    embeddings = _embeddings(rows)
    return History(
        tuple(r["action_id"] for r in rows),
        tuple(int(r["timestamp"]) for r in rows),
        tuple(r["verb"] for r in rows),
        tuple(r["object"] for r in rows),
        embeddings,
    )
