"""One code base for Pinot 0.11 to 1.5: what only 1.x answers, played by the proxy in front of the real 0.11.

The audit of Pinot's release tags (``docs/pinot.md``, "Which Pinot") lists the
answers that differ: a missing table is 404 from 1.4 (``200 {}`` before), an
upsert table's ``comparisonColumn`` comes back as ``comparisonColumns`` on every
1.x, and ``GET /version`` names its jars by packaging (or says nothing). The
proxy rewrites the real Pinot 0.11's answers into those forms; everything
else (creation, ingestion, reads) is the real Pinot's.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from feast_pinot.online.backend import LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.pinot.controller import pinot_version
from feast_pinot.online.pinot.layout import KAFKA20, KAFKA30, Layout
from tests.fixtures.pinot import pinot_settings
from tests.pinot.conftest import Proxied

PROFILE = TableSpec("v_profile", "latest", columns=(("industry", "String"), ("score", "Int64")))
LOG = TableSpec("v_actions", "actions", actor_is_int=True, retention_ms=3_600_000)


@pytest.fixture
def backend(proxied: Proxied, pinot_prefix: str) -> PinotBackend:
    return PinotBackend(PinotOnlineStoreConfig(**pinot_settings(proxied.endpoints, pinot_prefix)))


def _calls(proxied: Proxied, since: int, prefix: str) -> list[str]:
    return [f"{r.method} {r.path}" for r in proxied.controller.since(since, prefix)]


def test_a_missing_table_answered_404_as_pinot_1_4_does(
    backend: PinotBackend, proxied: Proxied, pinot_prefix: str
) -> None:
    name = backend._layout.table(PROFILE.name)
    missing = json.dumps({"code": 404, "error": f"Table {name}_REALTIME does not exist"}).encode()
    proxied.controller.inject(rf"^GET /tables/{name}\?type=realtime", status=404, body=missing)
    backend.create_tables([PROFILE])
    backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x", "score": 2})])
    assert backend.read_latest(PROFILE.name, ["k"]) == [LatestRow("k", 1, {"industry": "x", "score": 2})]


def _as_pinot_1x(answer: dict[str, Any]) -> dict[str, Any]:
    """A table config as 1.x stores one created with ``comparisonColumn``, plus 1.3's dedup defaults."""
    realtime = answer["REALTIME"]
    if "upsertConfig" in realtime:
        realtime["upsertConfig"].pop("comparisonColumn", None)
        realtime["upsertConfig"]["comparisonColumns"] = ["feast_event_ms"]
    if "dedupConfig" in realtime:
        realtime["dedupConfig"].update(metadataTTL=0, dedupTimeColumn=None, enablePreload=False)
    return answer


def test_a_second_apply_against_1x_echoes_writes_nothing(
    backend: PinotBackend, proxied: Proxied, pinot_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend.create_tables([PROFILE, LOG])
    proxied.controller.inject(rf"^GET /tables/{pinot_prefix}", times=None, edit=_as_pinot_1x)
    start = len(proxied.controller.requests)
    with caplog.at_level(logging.WARNING):
        backend.create_tables([PROFILE, LOG])
    assert [c for c in _calls(proxied, start, pinot_prefix) if not c.startswith("GET ")] == []
    assert caplog.records == []  # no "unknown properties" warning either


def test_a_changed_table_is_sent_back_merged_into_what_pinot_holds(
    proxied: Proxied, pinot_prefix: str, backend: PinotBackend
) -> None:
    backend.create_tables([PROFILE])
    name = backend._layout.table(PROFILE.name)

    def with_operator_settings(answer: dict[str, Any]) -> dict[str, Any]:
        answer = _as_pinot_1x(answer)
        answer["REALTIME"]["tableIndexConfig"]["bloomFilterColumns"] = ["industry"]  # an operator's index
        return answer

    proxied.controller.inject(rf"^GET /tables/{name}\?", edit=with_operator_settings)
    changed = PinotBackend(PinotOnlineStoreConfig(**pinot_settings(proxied.endpoints, pinot_prefix,
                                                                   query_timeout_ms=1500)))
    start = len(proxied.controller.requests)
    changed.create_tables([PROFILE])
    puts = [r.body for r in proxied.controller.since(start, pinot_prefix) if r.method == "PUT"]
    assert len(puts) == 1
    sent = puts[0]
    assert sent["query"]["timeoutMs"] == 1500  # ours
    assert sent["tableIndexConfig"]["bloomFilterColumns"] == ["industry"]  # the operator's, kept
    assert sent["upsertConfig"]["comparisonColumns"] == ["feast_event_ms"]  # 1.5 refuses a change of it
    assert sent["tableName"] == name


@pytest.mark.parametrize(("answer", "version"), [
    ({"pinot-controller": "0.11.0"}, (0, 11, 0)),
    ({"pinot-distribution": "1.5.1-1a2b3c", "pinot-kafka-3.0": "1.5.1-1a2b3c", "jersey": "2.45"}, (1, 5, 1)),
    ({"pinot-controller": "1.3.0-SNAPSHOT-abc", "pinot-broker": "1.3.0"}, (1, 3, 0)),
    ({}, None),
    ({"other": "1.2.3"}, None),
    ({"pinot-controller": "unknown"}, None),
    (None, None),
    ([], None),
])
def test_the_version_probe_reads_any_pinot_key(answer: Any, version: tuple[int, int, int] | None) -> None:
    assert pinot_version(answer) == version


@pytest.mark.parametrize(("version", "factory", "consumer_type"), [
    (None, KAFKA20, "lowlevel"),
    ((0, 11, 0), KAFKA20, "lowlevel"),
    ((1, 2, 0), KAFKA20, "lowlevel"),
    ((1, 3, 0), KAFKA30, "lowlevel"),
    ((1, 4, 0), KAFKA30, None),
    ((1, 5, 1), KAFKA30, None),
])
def test_the_stream_config_follows_the_version(
    version: tuple[int, int, int] | None, factory: str, consumer_type: str | None
) -> None:
    settings = {"controller_url": "http://c:9000", "broker_url": "http://b:8099", "kafka_bootstrap_servers": "k:9092"}
    stream = Layout(PinotOnlineStoreConfig(**settings)).table_config(PROFILE, version)[
        "ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0]
    assert stream["stream.kafka.consumer.factory.class.name"] == factory
    assert stream.get("stream.kafka.consumer.type") == consumer_type
    chosen = Layout(PinotOnlineStoreConfig(**settings, consumer_factory="my.Factory")).table_config(PROFILE, version)
    assert chosen["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0][
        "stream.kafka.consumer.factory.class.name"] == "my.Factory"  # the user's choice wins


@pytest.mark.parametrize("answer", [b"{}", b'{"pinot-distribution": "0.11.0-4f2b"}'])
def test_apply_works_whatever_version_answers(
    backend: PinotBackend, proxied: Proxied, pinot_prefix: str, answer: bytes
) -> None:
    proxied.controller.inject(r"^GET /version", body=answer)
    backend.create_tables([LOG])
    stream = proxied.controller.since(0, f"{pinot_prefix}v_actions")
    posted = [r.body for r in stream if r.method == "POST" and r.path == "/tables"][-1]
    factory = posted["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0][
        "stream.kafka.consumer.factory.class.name"]
    assert factory == KAFKA20  # unknown or 0.11: the name every release takes
