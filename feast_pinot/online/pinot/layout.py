"""How backend tables map to Pinot: names, schema JSON and REALTIME table JSON (Pinot 0.11 on, 1.x accepts it).

Two layouts (reference ``pinot.md`` §4):

* ``latest`` (ordinary feature views): an upsert table keyed by the serialized
  entity key, the event time as time and comparison column, one typed column
  per feature, and two JSON columns listing the features that hold a value and
  those holding an empty list (Pinot keeps neither a null nor an empty
  multi-value column, see :mod:`~feast_pinot.online.pinot.records`);
* ``actions`` (action logs): an append table deduplicated on ``action_id``,
  ``timestamp`` (epoch ms) as time column with a retention, sorted and
  bloom-filtered on the actor, attributes as JSON, the embedding as BYTES
  (float32 little-endian): a history read then parses one hex string per
  action instead of ``dim`` JSON numbers.

Upsert and dedup need the topic keyed by the primary key and strictReplicaGroup
routing; action topics are keyed by actor, which keeps every copy of an
``action_id`` in one partition as dedup requires.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from feast_pinot.online.backend import TableSpec
from feast_pinot.online.pinot.errors import PinotSchemaError
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

__all__ = [
    "ACTION_COLUMNS", "EMBEDDING", "EMPTY", "EVENT_MS", "JSON_DECODER", "KAFKA20", "KAFKA30", "KEY", "PRESENT",
    "WRITE_ID", "Layout", "PinotVersion", "pinot_name", "stored_as_json",
]

KEY, EVENT_MS, WRITE_ID = "feast_entity_key", "feast_event_ms", "feast_write_id"
PRESENT, EMPTY = "feast_present", "feast_empty"
EMBEDDING = "objectEmbedding"
ATTRIBUTE_COLUMNS = ("actorAttributes", "verbAttributes", "objectAttributes")
ACTION_COLUMNS = ("actor", "action_id", "timestamp", "verb", "object", EMBEDDING)  # what a history read selects
JSON_DECODER = "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder"
KAFKA20 = "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory"
KAFKA30 = "org.apache.pinot.plugin.stream.kafka30.KafkaConsumerFactory"
_MS_TIME = {"dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}
_SCALARS = {"String": "STRING", "Int32": "INT", "Int64": "LONG", "Float32": "FLOAT", "Float64": "DOUBLE",
            "Bool": "BOOLEAN", "Bytes": "BYTES", "UnixTimestamp": "TIMESTAMP"}
# Arrays Pinot holds as multi-value columns. Not Bool: Pinot 0.11 fails on every record of a
# multi-value BOOLEAN column (ClassCastException in MutableSegmentImpl.updateDictionary); not
# UnixTimestamp (no multi-value TIMESTAMP in 0.11): those, like every other Feast type, go to a
# JSON column (records.py).
_ARRAY_ITEMS = ("String", "Int32", "Int64", "Float32", "Float64")
_NATIVE = {**_SCALARS, **{f"Array({item})": _SCALARS[item] for item in _ARRAY_ITEMS}}
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Pinot reserves "__" in table names and appends "_REALTIME"; Kafka topics allow [A-Za-z0-9._-].
_SAFE_TABLE = re.compile(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*")
_MAX_TABLE = 150  # well inside Kafka's 249 and ZooKeeper's node name limits, with "_REALTIME" added
_PINOT_MAX_LENGTH = 512
HOUR_MS = 3_600_000
PinotVersion = tuple[int, int, int]


def _field(name: str, data_type: str, single: bool = True, max_length: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "dataType": data_type}
    if not single:
        spec["singleValueField"] = False
    if max_length not in (None, _PINOT_MAX_LENGTH) and data_type == "STRING":
        spec["maxLength"] = max_length  # written only when not Pinot's default, as Pinot echoes it back
    return spec


def stored_as_json(feast_type: str) -> bool:
    """Whether a feature of this Feast type is held in a JSON column (every type Pinot has no column for)."""
    return feast_type not in _NATIVE


def _feature_field(name: str, feast_type: str, max_length: int) -> dict[str, Any]:
    if not _COLUMN.fullmatch(name) or name.startswith("feast_"):
        raise PinotSchemaError(f"feature {name!r}: Pinot column names here are letters, digits and '_', "
                               "not starting with 'feast_'")
    if feast_type == "Invalid":
        raise PinotSchemaError(f"feature {name!r} has Feast type Invalid")
    if stored_as_json(feast_type):
        return _field(name, "JSON")
    single = not feast_type.startswith("Array(")
    return _field(name, _NATIVE[feast_type], single=single, max_length=max_length)


def _distinct_ignoring_case(table: str, fields: list[dict[str, Any]]) -> None:
    """Pinot 1.x compares column names ignoring case (0.11 does not): refuse what only one of them takes."""
    seen: dict[str, str] = {}
    for field in fields:
        other = seen.setdefault(field["name"].lower(), field["name"])
        if other != field["name"]:
            raise PinotSchemaError(f"table '{table}': columns {other!r} and {field['name']!r} differ only in case; "
                                   "Pinot 1.x reads column names ignoring case: rename one")


def pinot_name(name: str) -> str:
    """A Pinot table (and Kafka topic) name for any name Feast accepts, the same every time.

    A name of ASCII letters and digits joined by single ``_`` is kept; any other
    (a trailing ``_``, ``__``, ``-``, non-ASCII, too long) becomes its safe part
    plus a hash of the whole name, so two names never meet.
    """
    if _SAFE_TABLE.fullmatch(name) and len(name) <= _MAX_TABLE:
        return name
    safe = "_".join(re.findall(r"[A-Za-z0-9]+", name))[: _MAX_TABLE - 12] or "t"
    if not safe[0].isalpha():
        safe = "t" + safe
    return f"{safe}_{hashlib.sha256(name.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Layout:
    """Names and JSON for one store configuration."""

    config: PinotOnlineStoreConfig

    def table(self, backend_name: str) -> str:
        """The Pinot table (= schema = topic) name of a backend table."""
        return pinot_name(self.config.name_prefix + backend_name)

    def schema(self, spec: TableSpec) -> dict[str, Any]:
        name = self.table(spec.name)
        length = self.config.max_string_length
        if spec.kind == "latest":
            key_fields = [_field(KEY, "STRING", max_length=length), _field(WRITE_ID, "STRING"),
                          _field(PRESENT, "JSON"), _field(EMPTY, "JSON")]
            dimensions = key_fields + [_feature_field(n, t, length) for n, t in spec.columns]
            primary, time_column = [KEY], EVENT_MS
        else:
            actor = _field("actor", "LONG") if spec.actor_is_int else _field("actor", "STRING", max_length=length)
            dimensions = [_field("action_id", "STRING", max_length=length), actor,
                          _field("verb", "STRING", max_length=length), _field("object", "STRING", max_length=length)]
            dimensions += [_field(c, "JSON") for c in ATTRIBUTE_COLUMNS] + [_field(EMBEDDING, "BYTES")]
            primary, time_column = ["action_id"], "timestamp"
        _distinct_ignoring_case(name, [*dimensions, {"name": time_column}])
        return {
            "schemaName": name,
            "primaryKeyColumns": primary,
            "dimensionFieldSpecs": dimensions,
            "dateTimeFieldSpecs": [{"name": time_column, **_MS_TIME}],
        }

    def _retention_hours(self, spec: TableSpec) -> int:
        if self.config.retention_hours is not None:
            return self.config.retention_hours
        # Twice the log's: a read pinned anywhere within the retention (a backtest) reaches back that far.
        # Pinot keeps whole hours: round up, never drop early.
        return max(1, -(-2 * spec.retention_ms // HOUR_MS))

    def table_config(self, spec: TableSpec, version: PinotVersion | None = None) -> dict[str, Any]:
        """The REALTIME table config; ``version`` is the controller's (None: unknown, 0.11's forms)."""
        name = self.table(spec.name)
        replicas = self.config.replication
        config: dict[str, Any] = {
            "tableName": name,
            "tableType": "REALTIME",
            "segmentsConfig": {"timeColumnName": EVENT_MS, "replication": str(replicas),
                               "replicasPerPartition": str(replicas)},
            "tenants": {"broker": "DefaultTenant", "server": "DefaultTenant"},
            "tableIndexConfig": {"loadMode": "MMAP", "invertedIndexColumns": [KEY]},
            "routing": {"instanceSelectorType": "strictReplicaGroup"},
            "query": {"timeoutMs": self.config.query_timeout_ms},
            # No comparisonColumn: Pinot compares on the time column (feast_event_ms) when none is
            # set, from 0.11 to 1.5; 1.x would echo the key back renamed (comparisonColumns).
            "upsertConfig": {"mode": "FULL"},
            "ingestionConfig": {"streamIngestionConfig": {"streamConfigMaps": [self._stream(name, version)]}},
            "metadata": {"customConfigs": {"feast_pinot.kind": spec.kind}},
        }
        if spec.kind == "actions":
            del config["upsertConfig"]
            config["segmentsConfig"].update(timeColumnName="timestamp", retentionTimeUnit="HOURS",
                                            retentionTimeValue=str(self._retention_hours(spec)))
            config["tableIndexConfig"] = {
                "loadMode": "MMAP",
                "sortedColumn": ["actor"],
                "invertedIndexColumns": ["verb"],
                "rangeIndexColumns": ["timestamp"],
                "bloomFilterColumns": ["actor"],
                "noDictionaryColumns": [*ATTRIBUTE_COLUMNS, EMBEDDING],
            }
            config["routing"]["segmentPrunerTypes"] = ["time"]
            config["dedupConfig"] = {"dedupEnabled": True, "hashFunction": "NONE"}
        return config

    def _stream(self, topic: str, version: PinotVersion | None) -> dict[str, str]:
        stream = {
            "streamType": "kafka",
            "stream.kafka.topic.name": topic,
            "stream.kafka.broker.list": self.config.stream_servers,
            "stream.kafka.consumer.factory.class.name": self.config.consumer_factory or _factory(version),
            "stream.kafka.decoder.class.name": JSON_DECODER,
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "0",
            "realtime.segment.flush.threshold.time": "6h",
            "realtime.segment.flush.threshold.segment.size": "200M",
        }
        if version is None or version < (1, 4, 0):
            stream["stream.kafka.consumer.type"] = "lowlevel"  # required by 1.0, no longer read from 1.4
        return {**stream, **self.config.stream_properties}


def _factory(version: PinotVersion | None) -> str:
    # kafka20 works on every release to 1.5.1 (an alias of kafka30 from 1.5, where its plugin is gone);
    # kafka30 ships from 1.3.
    return KAFKA30 if version is not None and version >= (1, 3, 0) else KAFKA20
