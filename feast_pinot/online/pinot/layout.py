"""How backend tables map to Pinot: names, schema JSON and REALTIME table JSON (Pinot 0.11 on, 1.x accepts it).

Two layouts (reference ``pinot.md`` §4):

* ``latest`` (ordinary feature views): an upsert table keyed by the serialized
  entity key, the event time as time and comparison column, one typed column
  per feature, and two JSON columns listing the features that hold a value and
  those holding an empty list (Pinot keeps neither a null nor an empty
  multi-value column, see :mod:`~feast_pinot.online.pinot.records`);
* ``actions`` (action logs): an append table deduplicated on ``action_id``,
  ``timestamp`` (epoch ms) as time column with a retention, sorted and
  bloom-filtered on the actor, attributes as JSON, the embedding as a
  multi-value FLOAT column.

Upsert and dedup need the topic keyed by the primary key and strictReplicaGroup
routing; action topics are keyed by actor, which keeps every copy of an
``action_id`` in one partition as dedup requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from feast_pinot.online.backend import TableSpec
from feast_pinot.online.pinot.errors import PinotSchemaError
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

__all__ = ["ACTION_COLUMNS", "EMBEDDING", "EMPTY", "EVENT_MS", "JSON_DECODER", "KEY", "PRESENT", "WRITE_ID", "Layout"]

KEY, EVENT_MS, WRITE_ID = "feast_entity_key", "feast_event_ms", "feast_write_id"
PRESENT, EMPTY = "feast_present", "feast_empty"
EMBEDDING = "objectEmbedding"
ATTRIBUTE_COLUMNS = ("actorAttributes", "verbAttributes", "objectAttributes")
ACTION_COLUMNS = ("actor", "action_id", "timestamp", "verb", "object", EMBEDDING)  # what a history read selects
JSON_DECODER = "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder"
_MS_TIME = {"dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}
_SCALARS = {"String": "STRING", "Int32": "INT", "Int64": "LONG", "Float32": "FLOAT", "Float64": "DOUBLE",
            "Bool": "BOOLEAN", "Bytes": "BYTES", "UnixTimestamp": "TIMESTAMP"}
# No Bool: Pinot 0.11 fails on every record of a multi-value BOOLEAN column
# (ClassCastException in MutableSegmentImpl.updateDictionary), so it is refused at apply.
_ARRAY_ITEMS = ("String", "Int32", "Int64", "Float32", "Float64")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PINOT_MAX_LENGTH = 512
HOUR_MS = 3_600_000


def _field(name: str, data_type: str, single: bool = True, max_length: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "dataType": data_type}
    if not single:
        spec["singleValueField"] = False
    if max_length not in (None, _PINOT_MAX_LENGTH) and data_type == "STRING":
        spec["maxLength"] = max_length  # written only when not Pinot's default, as Pinot echoes it back
    return spec


def _feature_field(name: str, feast_type: str, max_length: int) -> dict[str, Any]:
    if not _NAME.fullmatch(name) or name.startswith("feast_"):
        raise PinotSchemaError(f"feature {name!r}: Pinot column names here are letters, digits and '_', "
                               "not starting with 'feast_'")
    if feast_type in _SCALARS:
        return _field(name, _SCALARS[feast_type], max_length=max_length)
    match = re.fullmatch(r"Array\((\w+)\)", feast_type)
    if match and match.group(1) in _ARRAY_ITEMS:
        return _field(name, _SCALARS[match.group(1)], single=False, max_length=max_length)
    supported = list(_SCALARS) + [f"Array({t})" for t in _ARRAY_ITEMS]
    raise PinotSchemaError(f"feature {name!r} has Feast type {feast_type}; PinotOnlineStore supports {supported}")


@dataclass(frozen=True)
class Layout:
    """Names and JSON for one store configuration."""

    config: PinotOnlineStoreConfig

    def table(self, backend_name: str) -> str:
        """The Pinot table (= schema = topic) name of a backend table."""
        name = self.config.name_prefix + backend_name
        if not _NAME.fullmatch(name) or "__" in name or len(name) > 200:
            raise PinotSchemaError(f"{name!r} cannot name a Pinot table: use letters, digits and single '_' "
                                   "(rename the project or feature view)")
        return name

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
            dimensions += [_field(c, "JSON") for c in ATTRIBUTE_COLUMNS] + [_field(EMBEDDING, "FLOAT", single=False)]
            primary, time_column = ["action_id"], "timestamp"
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

    def table_config(self, spec: TableSpec) -> dict[str, Any]:
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
            "upsertConfig": {"mode": "FULL", "comparisonColumn": EVENT_MS},
            "ingestionConfig": {"streamIngestionConfig": {"streamConfigMaps": [self._stream(name)]}},
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

    def _stream(self, topic: str) -> dict[str, str]:
        return {
            "streamType": "kafka",
            "stream.kafka.topic.name": topic,
            "stream.kafka.broker.list": self.config.stream_servers,
            "stream.kafka.consumer.type": "lowlevel",
            "stream.kafka.consumer.factory.class.name": self.config.consumer_factory,
            "stream.kafka.decoder.class.name": JSON_DECODER,
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "0",
            "realtime.segment.flush.threshold.time": "6h",
            "realtime.segment.flush.threshold.segment.size": "200M",
            **self.config.stream_properties,
        }
