"""Feature values <-> JSON, for the stores that keep values as JSON.

The embedded store keeps a row's values as one JSON text, and PinotOnlineStore
keeps every feature of a type Pinot has no column for (``Map``, ``Json``,
``Struct``, ``Array(Bool)``, ``Array(UnixTimestamp)``, sets, ...) in a JSON
column. JSON has no form for some Python values Feast hands over; they travel
as one-key objects whose key no Feast value uses: bytes (base64), datetimes
(ISO 8601 with their offset), sets, UUIDs, decimals and non-finite floats
(standard JSON, which Pinot's parser demands, has no NaN).
"""

from __future__ import annotations

import base64
import decimal
import json
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["dumps", "from_json", "loads", "to_json"]

_TAG = "__feast_pinot_{}__"
_BYTES, _TIME, _SET = _TAG.format("bytes_b64"), _TAG.format("datetime"), _TAG.format("set")
_UUID, _DECIMAL, _FLOAT = _TAG.format("uuid"), _TAG.format("decimal"), _TAG.format("float")

_DECODERS: dict[str, Callable[[Any], Any]] = {
    _BYTES: base64.b64decode,
    _TIME: datetime.fromisoformat,
    _SET: lambda items: {from_json(item) for item in items},
    _UUID: uuid.UUID,
    _DECIMAL: decimal.Decimal,
    _FLOAT: float,
}


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data (dicts with str keys, lists, str, int, finite float, bool, None)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT: repr(value)}
    if isinstance(value, Mapping):
        return {_key(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {_TIME: value.isoformat()}
    if isinstance(value, (set, frozenset)):
        return {_SET: [to_json(v) for v in value]}
    if isinstance(value, uuid.UUID):
        return {_UUID: str(value)}
    if isinstance(value, decimal.Decimal):
        return {_DECIMAL: str(value)}
    raise TypeError(f"cannot store a {type(value).__name__} feature value")


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"cannot store a map whose keys are {type(key).__name__}, not str")
    return key


def from_json(data: Any) -> Any:
    """The value :func:`to_json` was given."""
    if isinstance(data, list):
        return [from_json(v) for v in data]
    if isinstance(data, dict):
        if len(data) == 1:
            (key, item), = data.items()
            decoder = _DECODERS.get(key)
            if decoder is not None:
                return decoder(item)
        return {k: from_json(v) for k, v in data.items()}
    return data


def dumps(value: Any) -> str:
    """``value`` as JSON text; :class:`TypeError` naming what JSON cannot hold."""
    return json.dumps(to_json(value), allow_nan=False, separators=(",", ":"))


def loads(text: str) -> Any:
    return from_json(json.loads(text))
