"""Decoded JSON record -> one stored row, as Pinot's record transformers do.

Order as in Pinot: extract the schema's columns by exact name, convert each value
to the column's type (DataTypeTransformer), sanitize string lengths
(SanitizationTransformer), then replace missing values by the column's default
null value unless the schema enables column-based null handling
(NullValueTransformer). A value that cannot be converted drops the record, as
Pinot does without ``continueOnError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from tests.pinot_standin.model import FieldSpec, Schema

__all__ = ["RecordError", "transform", "stored_default"]

_INT_RANGE = {"INT": (-(2**31), 2**31 - 1), "LONG": (-(2**63), 2**63 - 1), "TIMESTAMP": (-(2**63), 2**63 - 1)}


class RecordError(ValueError):
    """The record cannot be ingested; the message says which column and why."""


def _integer(value: Any, field: FieldSpec) -> int:
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = int(value)
    elif isinstance(value, str) and field.data_type == "TIMESTAMP" and not value.lstrip("-").isdigit():
        number = _timestamp_ms(value, field)
    elif isinstance(value, str):
        try:
            number = int(float(value)) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            raise RecordError(f"cannot convert {value!r} to {field.data_type} for column {field.name}") from None
    else:
        raise RecordError(f"cannot convert {type(value).__name__} to {field.data_type} for column {field.name}")
    low, high = _INT_RANGE[field.data_type]
    if not low <= number <= high:
        raise RecordError(f"{number} is out of range for {field.data_type} column {field.name}")
    return number


def _timestamp_ms(value: str, field: FieldSpec) -> int:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"cannot parse timestamp {value!r} for column {field.name}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def _floating(value: Any, field: FieldSpec) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # accepts "NaN", "Infinity", "-Infinity" like Java's parseFloat
        except ValueError:
            pass
    raise RecordError(f"cannot convert {value!r} to {field.data_type} for column {field.name}")


def _boolean(value: Any, field: FieldSpec) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RecordError(f"cannot convert {value!r} to BOOLEAN for column {field.name}")


def _string(value: Any, field: FieldSpec) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise RecordError(
        f"the Pinot stand-in does not implement converting {type(value).__name__} to STRING "
        f"(column {field.name}); declare the column JSON"
    )


def _json(value: Any, field: FieldSpec) -> str:
    if isinstance(value, str):
        return value  # a string is taken as JSON text already
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _bytes(value: Any, field: FieldSpec) -> bytes:
    try:
        return bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    except (TypeError, ValueError):
        raise RecordError(f"cannot convert {value!r} to BYTES (hex) for column {field.name}") from None


_CONVERT = {
    "INT": _integer, "LONG": _integer, "TIMESTAMP": _integer,
    "FLOAT": _floating, "DOUBLE": _floating, "BIG_DECIMAL": _string,
    "BOOLEAN": _boolean, "STRING": _string, "JSON": _json, "BYTES": _bytes,
}


def _sanitize(value: Any, field: FieldSpec) -> Any:
    if field.data_type not in ("STRING", "JSON", "BYTES") or len(value) <= field.max_length:
        return value
    strategy = field.exceed_strategy
    if strategy == "TRIM_LENGTH":
        return value[: field.max_length]
    if strategy == "SUBSTITUTE_DEFAULT_VALUE":
        return field.default_null
    if strategy == "ERROR":
        raise RecordError(f"value of column {field.name} exceeds maxLength {field.max_length}")
    return value


def _convert(value: Any, field: FieldSpec) -> Any:
    """The stored value, or None when the record has no value for the column."""
    if value is None:
        return None
    if field.single_value:
        if isinstance(value, (list, dict)) and field.data_type != "JSON":
            raise RecordError(f"column {field.name} is single-value, got {type(value).__name__}")
        return _sanitize(_CONVERT[field.data_type](value, field), field)
    items = value if isinstance(value, list) else [value]
    converted = [_sanitize(_CONVERT[field.data_type](v, field), field) for v in items if v is not None]
    return converted or None  # an empty multi-value is a null


def stored_default(field: FieldSpec) -> Any:
    return field.default_null if field.single_value else [field.default_null]


def transform(record: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in schema.fields:
        value = _convert(record.get(field.name), field)
        if value is None and not schema.null_handling:
            value = stored_default(field)
        row[field.name] = value
    return row
