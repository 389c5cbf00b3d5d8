"""The standard action schema: validation, ids, and the Feast push frame.

One action on the wire (JSON) looks like::

    {"action_id": "...", "actor": 1042, "verb": "job-apply", "object": "job:222",
     "timestamp": 1763800000000, "actorAttributes": {...}, "verbAttributes": {...},
     "objectAttributes": {"embedding": [...], "geo": "..."}}

``action_id`` may be omitted: it is then derived from the other fields, so a
replay of the same action writes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from feast_pinot.keys import epoch_ms_problem, is_int64, is_utf8
from feast_pinot.specs import ActionLogSpec

__all__ = [
    "ACTION_COLUMNS",
    "Action",
    "actions_to_frame",
    "actions_to_table",
    "datetime_to_ms",
    "derive_action_id",
    "embeddings_not_numbers",
    "ms_to_datetime",
    "shown_duration",
    "shown_time",
    "validate_action",
    "validate_actions",
    "validate_push_rows",
]

# Feast columns of an action log besides the actor's join key and the event time.
ACTION_COLUMNS = ("action_id", "verb", "object", "embedding", "attributes")
_ATTRIBUTE_KEYS = ("actorAttributes", "verbAttributes", "objectAttributes")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Built once: json.dumps with options builds a new encoder per call, and this runs per event.
_ATTRIBUTES_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMBER_TYPES = {float, int}


@dataclass(frozen=True, slots=True)
class Action:
    """One validated action, as every store keeps it."""

    action_id: str
    actor: int | str
    verb: str
    object: str
    ts_ms: int
    embedding: tuple[float, ...] | None
    attributes: str  # JSON object: actor/verb/object attributes, embedding excluded


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).replace(
        microsecond=(ms % 1000) * 1000
    )


def shown_time(ms: int) -> str:
    """Epoch ms as a message shows it: ``2026-11-22 08:26:40.123 UTC``."""
    try:
        return ms_to_datetime(ms).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    except (OverflowError, OSError, ValueError):  # beyond the years datetime knows
        return "not a date"


def shown_duration(ms: int) -> str:
    """A duration as a message shows it: hours, minutes or seconds, whichever is whole."""
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def datetime_to_ms(ts: datetime | pd.Timestamp) -> int:
    """Exact epoch milliseconds (no float rounding) of an aware or UTC-naive time."""
    if isinstance(ts, pd.Timestamp):
        ts = ts.to_pydatetime(warn=False)  # sub-ms digits are dropped below anyway
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def derive_action_id(raw: Mapping[str, Any]) -> str:
    """A deterministic id from the action's content (used when none is given)."""
    body = {k: raw.get(k) for k in ("actor", "verb", "object", "timestamp")}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode())
    return "a-" + digest.hexdigest()[:32]


class _Reject(Exception):
    pass


def _require(raw: Mapping[str, Any], field: str) -> Any:
    if raw.get(field) is None:
        raise _Reject(f"missing required field '{field}'")
    return raw[field]


def _integer(value: Any) -> int | None:
    """A Python or numpy integer as int (never a bool); None for anything else."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return None
    return int(value)


def _actor(raw: Mapping[str, Any], spec: ActionLogSpec) -> int | str:
    actor = _require(raw, "actor")
    if spec.actor_is_int:
        number = _integer(actor)
        if number is None:
            raise _Reject(f"'actor' must be an integer {spec.actor_join_key}, got {actor!r}")
        if not is_int64(number):
            raise _Reject(f"'actor' {number} is outside int64")
        return number
    if not isinstance(actor, str) or not actor:
        raise _Reject(f"'actor' must be a non-empty string {spec.actor_join_key}, got {actor!r}")
    return _utf8(actor, "actor")


def _utf8(value: str, field: str) -> str:
    if not is_utf8(value):
        raise _Reject(f"'{field}' is not valid text (UTF-8 cannot encode it): {value!r}")
    return str(value)


def _text(raw: Mapping[str, Any], field: str) -> str:
    value = _require(raw, field)
    if not isinstance(value, str) or not value:
        raise _Reject(f"'{field}' must be a non-empty string, got {value!r}")
    return _utf8(value, field)


def _timestamp(raw: Mapping[str, Any], spec: ActionLogSpec, now_ms: int) -> int:
    ts = _integer(_require(raw, "timestamp"))
    if ts is None:
        raise _Reject(f"'timestamp' must be epoch milliseconds (int), got {raw['timestamp']!r}")
    if problem := epoch_ms_problem(ts):
        raise _Reject(f"'timestamp' {problem}")
    if ts <= now_ms - spec.retention_ms:
        raise _Reject(
            f"timestamp {ts} ({shown_time(ts)}) is outside the {shown_duration(spec.retention_ms)} retention "
            f"(now {shown_time(now_ms)})"
        )
    if ts > now_ms + spec.future_tolerance_ms:
        raise _Reject(f"timestamp {ts} ({shown_time(ts)}) is more than {shown_duration(spec.future_tolerance_ms)} "
                      f"in the future (now {shown_time(now_ms)})")
    return ts


def _attributes(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for key in _ATTRIBUTE_KEYS:
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise _Reject(f"'{key}' must be an object, got {type(value).__name__}")
        found[key] = dict(value)
    return found


def _attributes_json(attrs: dict[str, dict[str, Any]]) -> str:
    try:
        text = _ATTRIBUTES_JSON.encode(attrs)
    except (TypeError, ValueError) as exc:
        raise _Reject(f"attributes are not JSON: {exc}") from None
    # ASCII-escaped JSON shows any surrogate as \udXXX; only then is the slow check needed.
    if "\\ud" in text and not is_utf8(json.dumps(attrs, ensure_ascii=False)):
        raise _Reject("attributes contain text UTF-8 cannot encode (a lone surrogate)")
    return text


def _embedding(attrs: dict[str, dict[str, Any]], spec: ActionLogSpec) -> tuple[float, ...] | None:
    obj = attrs.get("objectAttributes", {})
    emb = obj.pop("embedding", None)
    if spec.embedding_dim == 0:
        if emb is not None:
            raise _Reject(f"log '{spec.name}' stores no embeddings (embedding_dim=0)")
        return None
    if emb is None:
        raise _Reject("missing objectAttributes.embedding")
    if isinstance(emb, np.ndarray):
        emb = _flat_array(emb)
    if not isinstance(emb, (list, tuple)) or len(emb) != spec.embedding_dim:
        size = len(emb) if isinstance(emb, (list, tuple)) else type(emb).__name__
        raise _Reject(f"embedding must have {spec.embedding_dim} floats, got {size}")
    values = _float64s(emb)
    # A finite sum proves every value finite; only a non-finite one needs the full check.
    if not math.isfinite(sum(values)) and not all(map(math.isfinite, values)):
        raise _Reject("embedding contains NaN or infinity")
    if max(values) > _FLOAT32_MAX or min(values) < -_FLOAT32_MAX:
        raise _Reject(f"embedding values must be within float32's range (|x| <= {_FLOAT32_MAX:.7g})")
    return tuple(values)


def _flat_array(emb: np.ndarray) -> Any:
    if emb.ndim != 1 or emb.dtype.kind not in "iuf":
        return emb  # reported below by its type, or as not numbers
    return emb.astype(np.float64).tolist()


def _float64s(emb: list[Any] | tuple[Any, ...]) -> Sequence[float]:
    """The values as float64; this runs per ingested event, so plain numbers take one C loop."""
    if problem := _not_numbers(emb):
        raise _Reject(problem)
    try:
        return array("d", emb)
    except OverflowError:  # an int beyond any float
        raise _Reject(
            f"embedding values must be within float32's range (|x| <= {_FLOAT32_MAX:.7g})"
        ) from None


def _not_numbers(emb: list[Any] | tuple[Any, ...]) -> str | None:
    kinds = set(map(type, emb))
    if kinds <= _NUMBER_TYPES or all(map(_is_number_type, kinds)):
        return None
    shown = sorted({k.__name__ for k in kinds if not _is_number_type(k)})
    return f"embedding must contain only numbers, got {', '.join(shown)}"


def embeddings_not_numbers(embeddings: Iterable[Any]) -> list[int]:
    """The rows whose embedding (list, tuple or 1-D array) holds something other than numbers.

    Feast converts a frame given to ``store.push`` to Arrow before any store
    sees it, and Arrow turns a boolean among an embedding's floats into 1.0:
    this checks the frame as it was given (:mod:`feast_pinot.provider`).
    """
    found = []
    for row, emb in enumerate(embeddings):
        values = emb.tolist() if isinstance(emb, np.ndarray) else emb
        if isinstance(values, (list, tuple)) and _not_numbers(values):
            found.append(row)
    return found


def _is_number_type(kind: type) -> bool:
    """int, float and numpy numbers; bools (also ints in Python) are not embedding values."""
    if issubclass(kind, (bool, np.bool_)):
        return False
    return issubclass(kind, (int, float, np.integer, np.floating))


def _action_id(given: Any, actor: int | str, verb: str, obj: str, ts: int) -> str:
    if given is None or (isinstance(given, str) and not given):
        # from the validated values: a numpy actor or timestamp gives the same id as a plain one
        return derive_action_id({"actor": actor, "verb": verb, "object": obj, "timestamp": ts})
    if not isinstance(given, str):
        raise _Reject(f"'action_id' must be a string, got {given!r}")
    return _utf8(given, "action_id")


def validate_action(raw: Any, spec: ActionLogSpec, now_ms: int) -> Action | str:
    """The validated action, or the reason it does not fit the schema."""
    try:
        if not isinstance(raw, Mapping):
            raise _Reject(f"an action must be an object, got {type(raw).__name__}")
        verb = _text(raw, "verb")
        if verb not in spec.verbs:
            raise _Reject(f"unknown verb {verb!r}; log '{spec.name}' declares {list(spec.verbs)}")
        attrs = _attributes(raw)
        embedding = _embedding(attrs, spec)  # taken out of attrs: stored on its own
        actor, obj = _actor(raw, spec), _text(raw, "object")
        ts = _timestamp(raw, spec, now_ms)
        return Action(
            action_id=_action_id(raw.get("action_id"), actor, verb, obj, ts),
            actor=actor,
            verb=verb,
            object=obj,
            ts_ms=ts,
            embedding=embedding,
            attributes=_attributes_json(attrs),
        )
    except _Reject as rejected:
        return str(rejected)


def validate_actions(
    raws: Iterable[Any], spec: ActionLogSpec, now_ms: int
) -> tuple[list[Action], list[tuple[int, str]]]:
    """Split actions into valid ones and ``(index, reason)`` for the rest."""
    good: list[Action] = []
    bad: list[tuple[int, str]] = []
    for i, raw in enumerate(raws):
        result = validate_action(raw, spec, now_ms)
        if isinstance(result, str):
            bad.append((i, result))
        else:
            good.append(result)
    return good, bad


def validate_push_rows(
    rows: Iterable[Mapping[str, Any]], spec: ActionLogSpec, now_ms: int
) -> tuple[list[Action], list[tuple[int, str]]]:
    """:func:`validate_actions` for rows of a Feast push frame (the log's batch-source columns).

    ``event_timestamp`` is epoch ms; ``attributes`` is the JSON object of the
    actor/verb/object attributes (null: none). Feast's online and offline push
    paths both come here, so one rule decides what either store accepts.
    """
    good: list[Action] = []
    bad: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        try:
            result = validate_action(_push_row_raw(row, spec), spec, now_ms)
        except _Reject as rejected:
            result = str(rejected)
        if isinstance(result, str):
            bad.append((i, result))
        else:
            good.append(result)
    return good, bad


def _push_row_raw(row: Mapping[str, Any], spec: ActionLogSpec) -> dict[str, Any]:
    text = row.get("attributes")
    try:
        raw = json.loads(text) if text else {}
    except (TypeError, ValueError):
        raw = None
    if not isinstance(raw, dict):
        raise _Reject(f"'attributes' must be a JSON object (text), got {text!r}")
    embedding = row.get("embedding")
    if embedding is not None:
        if isinstance(embedding, list):  # Arrow turns a pandas NaN into a null
            embedding = [math.nan if v is None else v for v in embedding]
        obj = raw.get("objectAttributes")
        raw["objectAttributes"] = {**(obj if isinstance(obj, dict) else {}), "embedding": embedding}
    raw.update(
        action_id=row.get("action_id"),
        actor=row.get(spec.actor_join_key),
        verb=row.get("verb"),
        object=row.get("object"),
        timestamp=row.get("event_timestamp"),
    )
    return raw


def _plain_columns(actions: Sequence[Action], spec: ActionLogSpec) -> dict[str, list[Any]]:
    return {
        spec.actor_join_key: [a.actor for a in actions],
        "action_id": [a.action_id for a in actions],
        "verb": [a.verb for a in actions],
        "object": [a.object for a in actions],
        "attributes": [a.attributes for a in actions],
    }


def actions_to_frame(actions: Sequence[Action], spec: ActionLogSpec) -> pd.DataFrame:
    """The push frame of an action log: exactly its batch source's columns."""
    frame: dict[str, Any] = {
        **_plain_columns(actions, spec),
        "event_timestamp": pd.to_datetime([a.ts_ms for a in actions], unit="ms", utc=True),
    }
    if spec.embedding_dim:
        frame["embedding"] = [list(a.embedding or ()) for a in actions]
    df = pd.DataFrame(frame)
    if spec.actor_is_int:
        df[spec.actor_join_key] = df[spec.actor_join_key].astype("int64")
    return df


def actions_to_table(actions: Sequence[Action], spec: ActionLogSpec) -> pa.Table:
    """The same columns as :func:`actions_to_frame` as an Arrow table (offline parts),
    built without the pandas round trip."""
    columns: dict[str, Any] = {
        **_plain_columns(actions, spec),
        "event_timestamp": pa.array([a.ts_ms for a in actions], pa.timestamp("ms", tz="UTC")),
    }
    if spec.embedding_dim:
        columns["embedding"] = _embedding_column(actions, spec.embedding_dim)
    return pa.table(columns)


def _embedding_column(actions: Sequence[Action], dim: int) -> pa.Array:
    try:  # one 2-D conversion when every action has a full embedding (the usual case)
        flat = np.asarray([a.embedding for a in actions], dtype=np.float32).reshape(-1)
        offsets = np.arange(0, dim * len(actions) + 1, dim, dtype=np.int32)
        if len(flat) == dim * len(actions):
            return pa.ListArray.from_arrays(offsets, flat)
    except (TypeError, ValueError):
        pass  # missing or ragged: kept as they are, for write_action_parts to report
    return pa.array([a.embedding for a in actions], pa.list_(pa.float32()))
