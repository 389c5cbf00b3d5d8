"""The stand-in against Pinot's documented wire formats (reference ``pinot.md`` §0-§4, §9).

The table and schema bodies are the reference's examples (``data/``), so the
stand-in is checked with the JSON Pinot documents, not only with what our
client happens to send.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pinotdb
import pytest
from confluent_kafka import Producer

from stream_ingest.local import create_topics
from tests.pinot_standin import ControllerTiming, PinotStandIn

DATA = Path(__file__).parent / "data"
RESPONSE_FIELDS = [
    "resultTable", "numRowsResultSet", "partialResult", "exceptions", "numGroupsLimitReached", "timeUsedMs",
    "requestId", "brokerId", "numDocsScanned", "totalDocs", "numEntriesScannedInFilter",
    "numEntriesScannedPostFilter", "numServersQueried", "numServersResponded", "numSegmentsQueried",
    "numSegmentsProcessed", "numSegmentsMatched", "numConsumingSegmentsQueried", "numConsumingSegmentsProcessed",
    "numConsumingSegmentsMatched", "minConsumingFreshnessTimeMs", "numSegmentsPrunedByBroker",
    "numSegmentsPrunedByServer", "numSegmentsPrunedInvalid", "numSegmentsPrunedByLimit", "numSegmentsPrunedByValue",
    "brokerReduceTimeMs", "offlineThreadCpuTimeNs", "realtimeThreadCpuTimeNs", "offlineSystemActivitiesCpuTimeNs",
    "realtimeSystemActivitiesCpuTimeNs", "offlineResponseSerializationCpuTimeNs",
    "realtimeResponseSerializationCpuTimeNs", "offlineTotalCpuTimeNs", "realtimeTotalCpuTimeNs",
    "explainPlanNumEmptyFilterSegments", "explainPlanNumMatchAllFilterSegments", "traceInfo", "tablesQueried",
]


def example(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


class Cluster:
    """One stand-in, the Kafka broker, and helpers to make the reference's tables."""

    def __init__(self, standin: PinotStandIn, bootstrap: str) -> None:
        self.standin = standin
        self.bootstrap = bootstrap
        self.controller = httpx.Client(base_url=standin.controller_url, timeout=30)
        self.broker = httpx.Client(base_url=standin.broker_url, timeout=30)

    def actions_table(self, flush_rows: int = 0, retention_hours: int = 96) -> str:
        """The reference's ``actions`` schema and table under a fresh name and topic."""
        name = f"actions{uuid.uuid4().hex[:8]}"
        create_topics(self.bootstrap, [name], partitions=2)
        schema, table = example("actions_schema"), example("actions_realtime_table")
        schema["schemaName"] = table["tableName"] = name
        stream = table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0]
        stream.update({"stream.kafka.topic.name": name, "stream.kafka.broker.list": self.bootstrap,
                       "realtime.segment.flush.threshold.rows": str(flush_rows)})
        table["segmentsConfig"]["retentionTimeValue"] = str(retention_hours)
        assert self.controller.post("/schemas", json=schema).status_code == 200
        assert self.controller.post("/tables", json=table).status_code == 200
        return name

    def upsert_table(self) -> str:
        """The reference's ``objectAttrs`` upsert table under a fresh name and topic."""
        name = f"objectAttrs{uuid.uuid4().hex[:8]}"
        create_topics(self.bootstrap, [name], partitions=2)
        schema, table = example("object_attrs_schema"), example("object_attrs_upsert_table")
        schema["schemaName"] = table["tableName"] = name
        stream = table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0]
        stream.update({"stream.kafka.topic.name": name, "stream.kafka.broker.list": self.bootstrap})
        assert self.controller.post("/schemas", json=schema).status_code == 200
        assert self.controller.post("/tables", json=table).status_code == 200
        return name

    def produce(self, topic: str, records: list[Any], partition: int | None = None) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 1})
        for record in records:
            value = record if isinstance(record, bytes) else json.dumps(record).encode()
            # -1: librdkafka's "unassigned", i.e. let the partitioner choose
            producer.produce(topic, value=value, key=b"k", partition=-1 if partition is None else partition)
        assert producer.flush(10) == 0

    def wait_docs(self, table: str, docs: int, dropped: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while True:
            stats = self.controller.get(f"/__standin__/tables/{table}").json()
            if stats["docs"] >= docs and len(stats["dropped"]) >= dropped:
                return stats
            assert time.monotonic() < deadline, f"ingested {stats} of {docs} docs"
            time.sleep(0.02)

    def query(self, sql: str, options: str | None = None) -> httpx.Response:
        body = {"sql": sql} if options is None else {"sql": sql, "queryOptions": options}
        return self.broker.post("/query/sql", json=body)

    def rows(self, sql: str, options: str | None = None) -> list[list[Any]]:
        response = self.query(sql, options).json()
        assert response["exceptions"] == [], response["exceptions"]
        return response["resultTable"]["rows"]

    def error(self, sql: str, options: str | None = None) -> dict[str, Any]:
        response = self.query(sql, options).json()
        assert "resultTable" not in response and len(response["exceptions"]) == 1, response
        return response["exceptions"][0]


@pytest.fixture(scope="module")
def cluster(standin: PinotStandIn, kafka_bootstrap: str) -> Cluster:
    return Cluster(standin, kafka_bootstrap)


@pytest.fixture(scope="module")
def actions(cluster: Cluster) -> str:
    """15 actions of actors 1-3 (verbs by i % 12), one with a long object, one without attributes."""
    name = cluster.actions_table()
    records = [{"actor": 1 + i % 3, "verb": f"v{i % 12:02d}", "object": f"job:{i}", "timestamp": 1000 + i,
                "objectEmbedding": [0.123456789, i], "objectAttributes": {"geo": "eu", "i": i}} for i in range(14)]
    records.append({"actor": 9, "verb": "v99", "object": "x" * 600, "timestamp": 5000})
    cluster.produce(name, records)
    cluster.wait_docs(name, 15)
    return name


# -- controller ---------------------------------------------------------------------


def test_schema_upload_answers_like_pinot(cluster: Cluster) -> None:
    schema = example("actions_schema") | {"schemaName": f"s{uuid.uuid4().hex[:6]}", "colour": "blue"}
    first = cluster.controller.post("/schemas", json=schema)
    assert (first.status_code, first.json()) == (
        200, {"unrecognizedProperties": {"/colour": "blue"}, "status": f"{schema['schemaName']} successfully added"})
    again = cluster.controller.post("/schemas?override=false", json=schema)
    assert (again.status_code, again.json()) == (
        409, {"code": 409, "error": f"Schema: {schema['schemaName']} already exists"})
    narrower = copy.deepcopy(schema)
    narrower["dimensionFieldSpecs"] = narrower["dimensionFieldSpecs"][1:]
    refused = cluster.controller.post("/schemas", json=narrower)
    assert (refused.status_code, refused.json()["error"]) == (
        400, f"New schema: {schema['schemaName']} is not backward-compatible with the existing schema")
    nameless = cluster.controller.post("/schemas", json=schema | {"schemaName": ""})
    assert nameless.json() == {"code": 400, "error": "Invalid schema. Reason: 'schemaName' should not be null or empty"}
    missing = cluster.controller.get("/schemas/never_made")
    assert (missing.status_code, missing.json()) == (404, {"code": 404, "error": "Schema not found"})


def test_table_lifecycle_answers_like_pinot(cluster: Cluster) -> None:
    name = cluster.actions_table()
    table = cluster.controller.get(f"/tables/{name}").json()["REALTIME"]
    assert table["tableName"] == f"{name}_REALTIME"  # stored with its type
    assert table["segmentsConfig"]["retentionTimeValue"] == "96"
    duplicate = cluster.controller.post("/tables", json=table | {"tableName": name})
    assert (duplicate.status_code, duplicate.json()["error"]) == (409, (
        f"Table config for {name}_REALTIME already exists. If this is unexpected, try deleting the table "
        "to remove all metadata associated with it."))
    assert cluster.controller.get("/tables/never_made").json() == {}
    assert name in cluster.controller.get("/tables").json()["tables"]
    in_use = cluster.controller.delete(f"/schemas/{name}")
    assert (in_use.status_code, in_use.json()["error"]) == (
        409, f"Cannot delete schema {name}, as it is associated with table {name}_REALTIME")
    assert cluster.controller.delete(f"/tables/{name}?type=bogus").json() == {
        "code": 400, "error": "Illegal table type 'bogus'"}
    deleted = cluster.controller.delete(f"/tables/{name}?type=realtime")
    assert (deleted.status_code, deleted.json()) == (200, {"status": f"Tables: [{name}_REALTIME] deleted"})
    gone = cluster.controller.delete(f"/tables/{name}?type=realtime")
    assert (gone.status_code, gone.json()["error"]) == (404, f"Table '{name}' with type REALTIME does not exist")
    assert cluster.controller.delete(f"/schemas/{name}").json() == {"status": f"Schema {name} deleted"}
    health = cluster.controller.get("/health")
    assert (health.status_code, health.text, health.headers["content-type"]) == (200, "OK", "text/plain")


@pytest.mark.parametrize(("change", "message"), [
    (lambda s, t: s.pop("primaryKeyColumns"), "Upsert/Dedup table must have primary key columns in the schema"),
    (lambda s, t: t.pop("routing"),
     "Upsert/Dedup table must use strict replica-group (i.e. strictReplicaGroup) based routing"),
    (lambda s, t: t["upsertConfig"].update(metadataTTL=10, enableSnapshot=False), "Upsert TTL must have snapshot enabled"),
    (lambda s, t: t["segmentsConfig"].pop("timeColumnName"), "'timeColumnName' cannot be null in REALTIME table config"),
    (lambda s, t: t["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0].update(
        {"stream.kafka.consumer.type": "highlevel"}),
     "Realtime tables with HLC consumer (consumer.type=highlevel) is no longer supported"),
])
def test_invalid_table_configs_are_refused(cluster: Cluster, change: Callable[..., Any], message: str) -> None:
    name = f"bad{uuid.uuid4().hex[:8]}"
    create_topics(cluster.bootstrap, [name])
    schema, table = example("object_attrs_schema"), example("object_attrs_upsert_table")
    schema["schemaName"] = table["tableName"] = name
    table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0].update(
        {"stream.kafka.topic.name": name, "stream.kafka.broker.list": cluster.bootstrap})
    change(schema, table)
    cluster.controller.post("/schemas", json=schema)
    refused = cluster.controller.post("/tables", json=table)
    assert (refused.status_code, refused.json()) == (400, {"code": 400, "error": message})


def test_a_table_needs_its_topic(cluster: Cluster) -> None:
    schema, table = example("actions_schema"), example("actions_realtime_table")
    schema["schemaName"] = table["tableName"] = "no_topic_table"
    table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0].update(
        {"stream.kafka.topic.name": "no-such-topic", "stream.kafka.broker.list": cluster.bootstrap})
    cluster.controller.post("/schemas", json=schema)
    refused = cluster.controller.post("/tables", json=table)
    assert refused.status_code == 400 and "no-such-topic" in refused.json()["error"]


# -- broker: response format ------------------------------------------------------------


def test_response_has_pinots_fields_in_pinots_order(cluster: Cluster, actions: str) -> None:
    response = cluster.query(f'SELECT actor, "timestamp" FROM {actions} WHERE actor = 2 ORDER BY "timestamp" LIMIT 3')
    body = response.json()
    assert list(body) == RESPONSE_FIELDS
    assert response.headers["X-Pinot-Error-Code"] == "-1"
    assert body["resultTable"] == {"dataSchema": {"columnNames": ["actor", "timestamp"],
                                                  "columnDataTypes": ["LONG", "LONG"]},
                                   "rows": [[2, 1001], [2, 1004], [2, 1007]]}
    assert (body["numRowsResultSet"], body["numServersQueried"], body["numServersResponded"]) == (3, 1, 1)
    assert body["tablesQueried"] == [actions] and body["partialResult"] is False


def test_default_limit_is_10_for_rows_and_groups(cluster: Cluster, actions: str) -> None:
    assert len(cluster.rows(f"SELECT verb FROM {actions}")) == 10
    assert len(cluster.rows(f"SELECT verb, COUNT(*) FROM {actions} GROUP BY verb")) == 10
    assert len(cluster.rows(f"SELECT verb, COUNT(*) FROM {actions} GROUP BY verb LIMIT 100")) == 13


def test_an_always_false_filter_is_answered_by_the_broker_alone(cluster: Cluster, actions: str) -> None:
    body = cluster.query(f"SELECT actor FROM {actions} WHERE 1 = 0 LIMIT 5").json()
    assert "resultTable" not in body
    assert (body["numServersQueried"], body["numServersResponded"], body["exceptions"]) == (0, 0, [])
    none_match = cluster.query(f"SELECT actor FROM {actions} WHERE actor = 404 LIMIT 5").json()
    assert none_match["resultTable"]["rows"] == [] and none_match["numServersQueried"] == 1
    assert cluster.rows(f"SELECT COUNT(*), MIN(actor) FROM {actions} WHERE actor = 404") == [[0, "Infinity"]]


def test_values_are_encoded_as_pinot_sends_them(cluster: Cluster, actions: str) -> None:
    rows = cluster.rows(f"SELECT objectEmbedding, objectAttributes, actorAttributes, verbAttributes "
                        f"FROM {actions} WHERE actor = 1 AND \"timestamp\" = 1003")
    embedding, *attributes = rows[0]
    assert attributes == ['{"geo":"eu","i":3}', "null", "null"]  # JSON as text; missing JSON is "null"
    assert np.float32(embedding[0]) == np.float32(0.123456789) and embedding[0] != 0.123456789  # float32
    assert embedding[1] == 3.0
    long_object, missing_embedding = cluster.rows(
        f"SELECT object, objectEmbedding FROM {actions} WHERE actor = 9")[0]
    assert long_object == "x" * 512  # STRING is trimmed to maxLength
    assert missing_embedding == ["-Infinity"]  # a missing FLOAT MV is [default], non-finite as a string
    described = cluster.query(f"SELECT objectEmbedding, COUNT(*) AS n, DISTINCTCOUNT(verb) FROM {actions} "
                              "GROUP BY objectEmbedding LIMIT 1").json()["resultTable"]["dataSchema"]
    assert described == {"columnNames": ["objectEmbedding", "n", "distinctcount(verb)"],
                         "columnDataTypes": ["FLOAT_ARRAY", "LONG", "INT"]}


def test_names_resolve_like_the_broker(cluster: Cluster, actions: str) -> None:
    rows = cluster.query(f'SELECT ACTOR, Object FROM {actions.upper()}_REALTIME WHERE "actor" = 3 '
                         'ORDER BY "timestamp" LIMIT 1').json()["resultTable"]
    assert rows == {"dataSchema": {"columnNames": ["actor", "object"], "columnDataTypes": ["LONG", "STRING"]},
                    "rows": [[3, "job:2"]]}
    star = cluster.query(f"SELECT * FROM {actions} LIMIT 1").json()["resultTable"]["dataSchema"]["columnNames"]
    assert star == sorted(star) == sorted(f["name"] for f in example("actions_schema")["dimensionFieldSpecs"]
                                          + example("actions_schema")["dateTimeFieldSpecs"])
    # '' is a quote inside a literal; a backslash is an ordinary character, so 'job:1\' ends there.
    assert cluster.rows(f"SELECT COUNT(*) FROM {actions} WHERE object = 'job:1\\' OR object = 'job:2'") == [[1]]
    assert cluster.rows(f"SELECT COUNT(*) FROM {actions} WHERE object = 'o''brien' OR object = 'o'") == [[0]]


@pytest.mark.parametrize(("sql", "code", "message"), [
    ("SELECT timestamp FROM {t}", 150, 'SQLParsingError:\nEncountered "timestamp": a reserved keyword; '
                                       'quote it as "timestamp"'),
    ("SELECT verb FROM {t} WHERE date = 1", 150, 'SQLParsingError:\nEncountered "date": a reserved keyword; '
                                                 'quote it as "date"'),
    ("SELECT colour FROM {t}", 710, "UnknownColumnError:\nUnknown columnName 'colour' found in the query"),
    ("SELECT verb FROM never_made", 190, "TableDoesNotExistError"),
    ("DELETE FROM {t}", 150, "SQLParsingError:\nUnsupported SqlKind DELETE: only SELECT queries"),
    ("SELECT verb FROM {t} a JOIN {t} b ON a.actor = b.actor", 450,
     "InternalError:\nthe Pinot stand-in does not implement Join (JOIN {t} AS b ON a.actor = b.actor)"),
    ("SELECT UPPER(verb) FROM {t}", 450, "InternalError:\nthe Pinot stand-in does not implement Upper (UPPER(verb))"),
    ("SET timeoutMs = 5; SELECT verb FROM {t}", 450,
     "InternalError:\nthe Pinot stand-in does not implement SET statements; send options in queryOptions"),
])
def test_errors_come_as_exceptions_in_a_200(cluster: Cluster, actions: str, sql: str, code: int, message: str) -> None:
    response = cluster.query(sql.format(t=actions))
    assert (response.status_code, response.headers["X-Pinot-Error-Code"]) == (200, str(code))
    assert cluster.error(sql.format(t=actions)) == {"errorCode": code, "message": message.format(t=actions)}
    assert response.json()["numServersQueried"] == 0  # both fields are always present


@pytest.mark.parametrize(("options", "message"), [
    ("timeoutMs=5;timeoutMs=6", "SQLParsingError:\nDuplicate key [timeoutMs] found."),
    ("timeoutMs", "SQLParsingError:\nChunk [timeoutMs] is not a valid entry"),
])
def test_bad_query_options_are_150(cluster: Cluster, actions: str, options: str, message: str) -> None:
    assert cluster.error(f"SELECT verb FROM {actions}", options) == {"errorCode": 150, "message": message}
    assert cluster.rows(f"SELECT verb FROM {actions} LIMIT 1", ";timeoutMs=500;;") != []  # empty entries are fine


def test_a_body_without_sql_is_a_500_in_plain_text(cluster: Cluster) -> None:
    response = cluster.broker.post("/query/sql", json={"query": "SELECT 1"})
    assert (response.status_code, response.text) == (500, "Payload is missing the query string field 'sql'")


def test_pinotdb_reads_the_stand_in(cluster: Cluster, actions: str) -> None:
    url = httpx.URL(cluster.standin.broker_url)
    cursor = pinotdb.connect(host=url.host, port=url.port, path="/query/sql", scheme="http").cursor()
    cursor.execute(f'SELECT actor, objectAttributes FROM {actions} WHERE actor = %(a)s ORDER BY "timestamp" LIMIT 2',
                   {"a": 3})
    assert cursor.fetchall() == [[3, {"geo": "eu", "i": 2}], [3, {"geo": "eu", "i": 5}]]
    cursor.execute(f"SELECT actor FROM {actions} WHERE 1 = 0 LIMIT 1")
    assert (cursor.fetchall(), cursor.description) == ([], None)


# -- broker: faults ------------------------------------------------------------------------


def test_faults_look_like_pinot_failures(cluster: Cluster, actions: str) -> None:
    sql = f"SELECT actor FROM {actions} WHERE actor = 1 LIMIT 100"
    cluster.broker.post("/__standin__/faults", json={"kind": "partial", "table": actions})
    partial = cluster.query(sql).json()
    assert (partial["numServersQueried"], partial["numServersResponded"], partial["partialResult"]) == (2, 1, True)
    assert partial["exceptions"] == [{"errorCode": 427, "message": "ServerNotResponding:\n1 servers "
                                                                   "[standin_server_1] not responded"}]
    assert len(partial["resultTable"]["rows"]) == 5
    cluster.broker.post("/__standin__/faults", json={"kind": "slow", "table": actions, "delay_ms": 300})
    slow = cluster.query(sql, "timeoutMs=100").json()
    assert (slow["numServersQueried"], slow["numServersResponded"], slow["exceptions"][0]["errorCode"]) == (1, 0, 427)
    assert len(cluster.rows(sql)) == 5  # faults are used up


# -- ingestion ------------------------------------------------------------------------------


def test_upsert_keeps_the_latest_record_per_key_and_partition(cluster: Cluster) -> None:
    name = cluster.upsert_table()
    cluster.produce(name, [{"object": "job:1", "attributes": {"v": 1}, "updatedAt": 20},
                           {"object": "job:1", "attributes": {"v": 0}, "updatedAt": 10},  # older: ignored
                           {"object": "job:2", "attributes": {"v": 2}, "updatedAt": 5}], partition=0)
    cluster.produce(name, [{"object": "job:2", "attributes": {"v": 3}, "updatedAt": 1}], partition=1)
    cluster.wait_docs(name, 4)
    rows = cluster.rows(f"SELECT object, attributes, updatedAt FROM {name} ORDER BY object, updatedAt")
    # job:2 was produced to two partitions: like Pinot, each partition keeps its own latest.
    assert rows == [["job:1", '{"v":1}', 20], ["job:2", '{"v":3}', 1], ["job:2", '{"v":2}', 5]]
    everything = cluster.rows(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true")
    assert everything == [[4]]


def test_dedup_drops_a_repeated_primary_key(cluster: Cluster) -> None:
    name = f"dedup{uuid.uuid4().hex[:8]}"
    create_topics(cluster.bootstrap, [name])
    schema = example("actions_schema") | {"schemaName": name, "primaryKeyColumns": ["object"]}
    table = example("actions_realtime_table") | {"tableName": name, "dedupConfig": {"dedupEnabled": True},
                                                 "routing": {"instanceSelectorType": "strictReplicaGroup"}}
    table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0].update(
        {"stream.kafka.topic.name": name, "stream.kafka.broker.list": cluster.bootstrap})
    cluster.controller.post("/schemas", json=schema)
    assert cluster.controller.post("/tables", json=table).status_code == 200
    cluster.produce(name, [{"actor": 1, "verb": "v", "object": o, "timestamp": t}
                           for o, t in (("a", 1), ("b", 2), ("a", 3))])
    cluster.produce(name, [b"not json", {"actor": "one", "verb": "v", "object": "c", "timestamp": 4}])
    stats = cluster.wait_docs(name, 2, dropped=2)
    assert cluster.rows(f'SELECT object, "timestamp" FROM {name} ORDER BY object') == [["a", 1], ["b", 2]]
    assert stats["dropped"][1] == "RecordError: cannot convert 'one' to LONG for column actor"


def test_retention_deletes_only_old_sealed_segments(cluster: Cluster) -> None:
    name = cluster.actions_table(flush_rows=2, retention_hours=1)
    now = time.time_ns() // 1_000_000
    old, recent = now - 2 * 3_600_000, now - 60_000
    cluster.produce(name, [{"actor": 1, "verb": "v", "object": f"o{i}", "timestamp": ts}
                           for i, ts in enumerate((old, old + 1, old + 2, recent, old + 3))], partition=0)
    stats = cluster.wait_docs(name, 5)
    assert [s["docs"] for s in stats["segments"] if s["partition"] == 0] == [2, 2, 1]
    run = cluster.controller.get(f"/periodictask/run?taskname=RetentionManager&tableName={name}")
    assert run.json()["Controllers notified"] is True
    left = cluster.rows(f'SELECT object FROM {name} ORDER BY "timestamp" LIMIT 10')
    # o0, o1: a sealed segment entirely past retention; o2 shares a segment with a recent row;
    # o4 is in the consuming segment, which retention never touches.
    assert left == [["o2"], ["o4"], ["o3"]]


def test_routing_and_external_view_timing(timed_standin: Callable[[ControllerTiming], PinotStandIn],
                                          kafka_bootstrap: str) -> None:
    cluster = Cluster(timed_standin(ControllerTiming(routing_delay_s=0.5, external_view_linger_s=0.5)), kafka_bootstrap)
    name = cluster.actions_table()
    assert cluster.error(f"SELECT actor FROM {name} LIMIT 1") == {"errorCode": 410,
                                                                   "message": "BrokerResourceMissingError"}
    table = cluster.controller.get(f"/tables/{name}").json()["REALTIME"]
    cluster.controller.delete(f"/tables/{name}?type=realtime")
    again = cluster.controller.post("/tables", json=table | {"tableName": name})
    assert again.status_code == 409 and again.json()["error"].startswith(
        f"External view for {name}_REALTIME still exists.")
    time.sleep(0.6)
    assert cluster.controller.post("/tables", json=table | {"tableName": name}).status_code == 200
