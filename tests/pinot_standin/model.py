"""Pinot schemas and REALTIME table configs as the stand-in understands them.

Parsing validates the way Pinot's controller does for the parts the stand-in
implements (messages from ``PinotHelixResourceManager``/``TableConfigUtils``
as quoted in the reference) and refuses, with a message saying so, the parts it
does not implement (OFFLINE tables, partial upsert, decoders other than JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ControllerError",
    "FieldSpec",
    "Schema",
    "StreamSettings",
    "TableModel",
    "parse_schema",
    "parse_table",
    "schema_unrecognized",
    "table_unrecognized",
    "backward_compatible",
    "JSON_DECODERS",
]

DATA_TYPES = ("INT", "LONG", "FLOAT", "DOUBLE", "BIG_DECIMAL", "BOOLEAN", "TIMESTAMP", "STRING", "JSON", "BYTES")
JSON_DECODERS = (
    "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
    "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
)
# FieldSpec.DEFAULT_DIMENSION_NULL_VALUE_OF_* (reference §9.4); metrics default to 0.
_DIMENSION_NULLS: dict[str, Any] = {
    "INT": -(2**31), "LONG": -(2**63), "FLOAT": -math.inf, "DOUBLE": -math.inf,
    "BIG_DECIMAL": "0", "BOOLEAN": False, "TIMESTAMP": 0, "STRING": "null", "JSON": "null", "BYTES": b"",
}
_SCHEMA_KEYS = {"schemaName", "dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs",
                "primaryKeyColumns", "enableColumnBasedNullHandling", "description", "tags"}
_FIELD_KEYS = {"name", "dataType", "singleValueField", "defaultNullValue", "maxLength",
               "maxLengthExceedStrategy", "notNull", "format", "granularity", "description"}
_TABLE_KEYS = {"tableName", "tableType", "segmentsConfig", "tenants", "tableIndexConfig", "routing", "query",
               "ingestionConfig", "upsertConfig", "dedupConfig", "metadata", "fieldConfigList", "quota", "task"}


class ControllerError(Exception):
    """An HTTP error of the controller: ``{"code": status, "error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FieldSpec:
    name: str
    data_type: str
    single_value: bool
    role: str  # dimension | metric | dateTime
    max_length: int
    exceed_strategy: str  # TRIM_LENGTH | SUBSTITUTE_DEFAULT_VALUE | ERROR | NO_ACTION
    default_null: Any


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...]
    null_handling: bool
    raw: Mapping[str, Any]

    def field(self, name: str) -> FieldSpec | None:
        """Case-insensitive lookup, as Pinot's broker resolves column names."""
        lowered = name.lower()
        return next((f for f in self.fields if f.name.lower() == lowered), None)


@dataclass(frozen=True)
class StreamSettings:
    topic: str
    bootstrap: str
    offset_reset: str  # smallest | largest
    flush_rows: int  # 0: size-based autotune, which the stand-in never reaches


@dataclass(frozen=True)
class TableModel:
    name: str  # raw name, e.g. "actions"
    time_column: str
    retention_ms: int | None
    stream: StreamSettings
    upsert_comparison: tuple[str, ...] | None  # None: not an upsert table
    dedup: bool
    timeout_ms: int | None
    raw: Mapping[str, Any]

    @property
    def name_with_type(self) -> str:
        return f"{self.name}_REALTIME"


def _unrecognized(body: Mapping[str, Any], known: set[str], path: str = "") -> dict[str, Any]:
    """Unknown top-level properties, keyed by JSON pointer, as in ConfigSuccessResponse."""
    return {f"{path}/{key}": value for key, value in body.items() if key not in known}


def schema_unrecognized(body: Mapping[str, Any]) -> dict[str, Any]:
    found = _unrecognized(body, _SCHEMA_KEYS)
    for group in ("dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs"):
        for i, spec in enumerate(body.get(group) or []):
            found.update(_unrecognized(spec, _FIELD_KEYS, f"/{group}/{i}"))
    return found


def table_unrecognized(body: Mapping[str, Any]) -> dict[str, Any]:
    return _unrecognized(body, _TABLE_KEYS)


def _bad(message: str) -> ControllerError:
    return ControllerError(400, message)


def _field(spec: Mapping[str, Any], role: str) -> FieldSpec:
    name, data_type = spec.get("name"), spec.get("dataType")
    if not isinstance(name, str) or not name:
        raise _bad("Invalid schema. Reason: field name should not be null or empty")
    if data_type not in DATA_TYPES:
        raise _bad(f"Invalid schema. Reason: unsupported data type {data_type!r} for column {name}")
    if role == "dateTime" and not (spec.get("format") and spec.get("granularity")):
        raise _bad(f"Invalid schema. Reason: dateTime field {name} needs format and granularity")
    default = 0 if role == "metric" else _DIMENSION_NULLS[data_type]
    return FieldSpec(
        name=name,
        data_type=data_type,
        single_value=bool(spec.get("singleValueField", True)),
        role=role,
        max_length=int(spec.get("maxLength", 512)),
        exceed_strategy=str(spec.get("maxLengthExceedStrategy", _default_strategy(data_type))),
        default_null=_default_null(spec.get("defaultNullValue"), data_type, default),
    )


def _default_strategy(data_type: str) -> str:
    # SanitizationTransformer (1.2+): STRING is trimmed, JSON and BYTES are left alone.
    return "TRIM_LENGTH" if data_type == "STRING" else "NO_ACTION"


def _default_null(raw: Any, data_type: str, fallback: Any) -> Any:
    if raw is None:
        return fallback
    if data_type in ("INT", "LONG", "TIMESTAMP"):
        return int(raw)
    if data_type in ("FLOAT", "DOUBLE"):
        return float(raw)
    return raw


def parse_schema(body: Any) -> Schema:
    if not isinstance(body, Mapping):
        raise _bad("Invalid schema. Reason: the body is not a JSON object")
    name = body.get("schemaName")
    if not isinstance(name, str) or not name:
        raise _bad("Invalid schema. Reason: 'schemaName' should not be null or empty")
    if "__" in name:
        raise _bad(f"Invalid schema. Reason: 'schemaName' must not contain '__': {name}")
    fields: list[FieldSpec] = []
    for group, role in (("dimensionFieldSpecs", "dimension"), ("metricFieldSpecs", "metric"),
                        ("dateTimeFieldSpecs", "dateTime")):
        fields += [_field(spec, role) for spec in body.get(group) or []]
    names = [f.name.lower() for f in fields]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise _bad(f"Invalid schema. Reason: duplicate column(s) {duplicated}")
    primary = tuple(body.get("primaryKeyColumns") or ())
    missing = [c for c in primary if c.lower() not in names]
    if missing:
        raise _bad(f"Invalid schema. Reason: primary key column(s) {missing} are not in the schema")
    return Schema(name, tuple(fields), primary, bool(body.get("enableColumnBasedNullHandling")), body)


def backward_compatible(old: Schema, new: Schema) -> bool:
    """Every old column is still there with the same type and cardinality."""
    return all(
        (f := new.field(o.name)) is not None and (f.data_type, f.single_value) == (o.data_type, o.single_value)
        for o in old.fields
    )


def _stream_map(body: Mapping[str, Any]) -> Mapping[str, str]:
    maps = ((body.get("ingestionConfig") or {}).get("streamIngestionConfig") or {}).get("streamConfigMaps")
    legacy = (body.get("tableIndexConfig") or {}).get("streamConfigs")
    if maps:
        if len(maps) != 1:
            raise _bad(f"The Pinot stand-in implements one stream per table, got {len(maps)}")
        return dict(maps[0])
    if legacy:
        return dict(legacy)
    raise _bad("Invalid table config: missing streamConfigMaps in ingestionConfig.streamIngestionConfig")


def _stream(body: Mapping[str, Any]) -> StreamSettings:
    conf = _stream_map(body)
    kind = conf.get("streamType")
    if kind != "kafka":
        raise _bad(f"The Pinot stand-in implements streamType 'kafka' only, got {kind!r}")
    if str(conf.get("stream.kafka.consumer.type", "lowlevel")).lower() == "highlevel":
        raise _bad("Realtime tables with HLC consumer (consumer.type=highlevel) is no longer supported")
    decoder = conf.get("stream.kafka.decoder.class.name")
    if decoder not in JSON_DECODERS:
        raise _bad(f"The Pinot stand-in implements the JSON decoders {list(JSON_DECODERS)} only, got {decoder!r}")
    topic, bootstrap = conf.get("stream.kafka.topic.name"), conf.get("stream.kafka.broker.list")
    if not topic or not bootstrap:
        raise _bad("Invalid table config: stream.kafka.topic.name and stream.kafka.broker.list are required")
    reset = str(conf.get("stream.kafka.consumer.prop.auto.offset.reset", "largest")).lower()
    if reset not in ("smallest", "largest"):
        raise _bad(f"The Pinot stand-in implements auto.offset.reset smallest|largest only, got {reset!r}")
    rows = conf.get("realtime.segment.flush.threshold.rows", conf.get("realtime.segment.flush.threshold.size", "0"))
    return StreamSettings(str(topic), str(bootstrap), reset, int(rows))


_TIME_UNITS_MS = {"MILLISECONDS": 1, "SECONDS": 1000, "MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000}


def _retention_ms(segments: Mapping[str, Any]) -> int | None:
    unit, value = segments.get("retentionTimeUnit"), segments.get("retentionTimeValue")
    if unit is None and value is None:
        return None
    if str(unit).upper() not in _TIME_UNITS_MS:
        raise _bad(f"Invalid table config: retentionTimeUnit {unit!r}")
    try:
        return int(str(value)) * _TIME_UNITS_MS[str(unit).upper()]
    except (TypeError, ValueError):
        raise _bad(f"Invalid table config: retentionTimeValue {value!r}") from None


def _keyed(body: Mapping[str, Any], schema: Schema) -> tuple[tuple[str, ...] | None, bool]:
    upsert = body.get("upsertConfig") or {}
    mode = str(upsert.get("mode", "NONE")).upper()
    dedup = bool((body.get("dedupConfig") or {}).get("dedupEnabled"))
    if mode == "NONE" and not dedup:
        return None, False
    if mode not in ("FULL", "NONE"):
        raise _bad(f"The Pinot stand-in implements upsert mode FULL only, got {mode}")
    if not schema.primary_key:
        raise _bad("Upsert/Dedup table must have primary key columns in the schema")
    if (body.get("routing") or {}).get("instanceSelectorType") != "strictReplicaGroup":
        raise _bad("Upsert/Dedup table must use strict replica-group (i.e. strictReplicaGroup) based routing")
    if float(upsert.get("metadataTTL", 0) or 0) > 0 and not upsert.get("enableSnapshot"):
        raise _bad("Upsert TTL must have snapshot enabled")
    if mode == "NONE":
        return None, dedup
    columns = tuple(upsert.get("comparisonColumns") or [upsert.get("comparisonColumn") or ""])
    columns = tuple(c for c in columns if c) or (body["segmentsConfig"]["timeColumnName"],)
    for column in columns:
        if schema.field(column) is None:
            raise _bad(f"Invalid table config: comparison column {column} is not in the schema")
    return columns, dedup


def parse_table(body: Any, schema_of: Mapping[str, Schema]) -> tuple[TableModel, Schema]:
    if not isinstance(body, Mapping) or not isinstance(body.get("tableName"), str):
        raise _bad("Invalid table config: 'tableName' is required")
    raw_name = body["tableName"].removesuffix("_REALTIME")
    if str(body.get("tableType", "")).upper() != "REALTIME":
        raise _bad(f"The Pinot stand-in implements REALTIME tables only, got {body.get('tableType')!r}")
    schema = schema_of.get(raw_name)
    if schema is None:
        raise _bad("Schema should not be null for REALTIME table")
    segments = body.get("segmentsConfig") or {}
    time_column = segments.get("timeColumnName")
    if not time_column:
        raise _bad("'timeColumnName' cannot be null in REALTIME table config")
    time_field = schema.field(time_column)
    if time_field is None or time_field.role != "dateTime":
        raise _bad(f"Cannot find valid fieldSpec for timeColumn: {time_column} from the table config: "
                   f"{raw_name}_REALTIME, in the schema: {schema.name}")
    comparison, dedup = _keyed(body, schema)
    timeout = (body.get("query") or {}).get("timeoutMs")
    table = TableModel(raw_name, time_column, _retention_ms(segments), _stream(body), comparison, dedup,
                       int(timeout) if timeout is not None else None, body)
    return table, schema
