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

from feast_pinot.specs import ActionLogSpec

__all__ = [
    "Action",
    "ACTION_COLUMNS",
    "derive_action_id",
    "validate_action",
    "validate_actions",
    "actions_to_frame",
    "actions_to_table",
    "ms_to_datetime",
    "datetime_to_ms",
]

# Feast columns of an action log besides the actor's join key and the event time.
ACTION_COLUMNS = ("action_id", "verb", "object", "embedding", "attributes")
_ATTRIBUTE_KEYS = ("actorAttributes", "verbAttributes", "objectAttributes")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Built once: json.dumps with options builds a new encoder per call, and this runs per event.
_ATTRIBUTES_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


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


def _actor(raw: Mapping[str, Any], spec: ActionLogSpec) -> int | str:
    actor = _require(raw, "actor")
    if spec.actor_is_int:
        if isinstance(actor, bool) or not isinstance(actor, int):
            raise _Reject(f"'actor' must be an integer {spec.actor_join_key}, got {actor!r}")
    elif not isinstance(actor, str) or not actor:
        raise _Reject(f"'actor' must be a non-empty string {spec.actor_join_key}, got {actor!r}")
    return actor


def _text(raw: Mapping[str, Any], field: str) -> str:
    value = _require(raw, field)
    if not isinstance(value, str) or not value:
        raise _Reject(f"'{field}' must be a non-empty string, got {value!r}")
    return value


def _timestamp(raw: Mapping[str, Any], spec: ActionLogSpec, now_ms: int) -> int:
    ts = _require(raw, "timestamp")
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise _Reject(f"'timestamp' must be epoch milliseconds (int), got {ts!r}")
    if ts <= now_ms - spec.retention_ms:
        raise _Reject(
            f"timestamp {ts} is outside the {spec.retention_ms} ms retention (now={now_ms})"
        )
    if ts > now_ms + spec.future_tolerance_ms:
        raise _Reject(f"timestamp {ts} is more than {spec.future_tolerance_ms} ms in the future")
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


def _embedding(attrs: dict[str, dict[str, Any]], spec: ActionLogSpec) -> tuple[float, ...] | None:
    obj = attrs.get("objectAttributes", {})
    emb = obj.pop("embedding", None)
    if spec.embedding_dim == 0:
        if emb is not None:
            raise _Reject(f"log '{spec.name}' stores no embeddings (embedding_dim=0)")
        return None
    if emb is None:
        raise _Reject("missing objectAttributes.embedding")
    if not isinstance(emb, (list, tuple)) or len(emb) != spec.embedding_dim:
        size = len(emb) if isinstance(emb, (list, tuple)) else type(emb).__name__
        raise _Reject(f"embedding must have {spec.embedding_dim} floats, got {size}")
    values = _float64s(emb)
    # A finite sum proves every value finite; only a non-finite one needs the full check.
    if not math.isfinite(sum(values)) and not all(map(math.isfinite, values)):
        raise _Reject("embedding contains NaN or infinity")
    return tuple(values)


def _float64s(emb: list[Any] | tuple[Any, ...]) -> Sequence[float]:
    """The values as float64; this runs per ingested event, so plain numbers take one C loop."""
    try:
        return array("d", emb)
    except (TypeError, OverflowError):
        pass  # numeric strings, nested lists, huge ints: numpy decides, as it always has
    try:
        values = np.asarray(emb, dtype=np.float64)
    except (TypeError, ValueError):
        raise _Reject("embedding must contain only numbers") from None
    if values.ndim != 1:
        raise _Reject("embedding must contain only numbers")
    return values.tolist()


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
        action_id = raw.get("action_id") or derive_action_id(raw)
        if not isinstance(action_id, str):
            raise _Reject(f"'action_id' must be a string, got {action_id!r}")
        return Action(
            action_id=action_id,
            actor=_actor(raw, spec),
            verb=verb,
            object=_text(raw, "object"),
            ts_ms=_timestamp(raw, spec, now_ms),
            embedding=embedding,
            attributes=_ATTRIBUTES_JSON.encode(attrs),
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
