"""PinotBackend behaviour beyond the shared contract: batching, the per-actor cap, upsert races."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from feast_pinot.actions import Action
from feast_pinot.online.backend import HistoryWindow, LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from local_cluster.polling import eventually
from tests.fixtures.pinot import PinotEndpoints, pinot_settings
from tests.pinot.conftest import Proxied

LATEST = TableSpec("p_latest", "latest", columns=(("v", "Int64"),))
ACTIONS = TableSpec("p_actions", "actions", actor_is_int=False)


@pytest.fixture
def backend(proxied: Proxied, pinot_prefix: str) -> PinotBackend:
    """A backend reading through the recording broker proxy."""
    made = PinotBackend(PinotOnlineStoreConfig(**pinot_settings(proxied.endpoints, pinot_prefix)))
    made.create_tables([LATEST, ACTIONS])
    return made


def _limits(proxied: Proxied, since: int, table: str) -> list[str]:
    """The LIMIT of every read of ``table`` the broker received since request ``since``."""
    sent = [r.body["sql"] for r in proxied.broker.since(since, table)]
    sent = [sql for sql in sent if f'FROM "{table}"' in sql and "ORDER BY" in sql]
    return [sql.rsplit("LIMIT ", 1)[1] for sql in sent]


def _action(aid: str, actor: str, ts: int) -> Action:
    return Action(aid, actor, "view", f"o:{aid}", ts, None, "{}")


def test_a_heavy_actor_never_hides_a_light_one(backend: PinotBackend, proxied: Proxied) -> None:
    heavy = [_action(f"h{i:02d}", "a-heavy", 100 + i) for i in range(12)]
    light = [_action("l1", "b-light", 50), _action("l2", "c-light", 60)]
    backend.append_actions(ACTIONS.name, heavy + light, HistoryWindow(0, 10**6, 100))
    seen = len(proxied.broker.requests)
    window = HistoryWindow(0, 10**6, 3)
    got = backend.read_histories(ACTIONS.name, ["c-light", "a-heavy", "b-light", "nobody"], window)
    assert [h.action_ids for h in got] == [("l2",), ("h11", "h10", "h09"), ("l1",), ()]
    # LIMIT 4 actors x 3 = 12 rows, all the heavy actor's: the others are asked again.
    assert _limits(proxied, seen, backend._layout.table(ACTIONS.name)) == ["12", "9"]


def test_large_key_lists_are_chunked(backend: PinotBackend, proxied: Proxied) -> None:
    backend.write_latest(LATEST.name, [LatestRow("k0500", 5, {"v": 1}), LatestRow("k1500", 5, {"v": 2})])
    keys = [f"k{i:04d}" for i in range(2100)]
    seen = len(proxied.broker.requests)
    got = backend.read_latest(LATEST.name, keys)
    assert {k: r.values for k, r in zip(keys, got) if r is not None} == {"k0500": {"v": 1}, "k1500": {"v": 2}}
    assert _limits(proxied, seen, backend._layout.table(LATEST.name)) == ["1000", "1000", "100"]


def test_two_visible_rows_of_a_key_resolve_to_the_newest(
    backend: PinotBackend, pinot_endpoints: PinotEndpoints
) -> None:
    """A key produced to two partitions (a producer not keying by it) stays visible twice in Pinot."""
    topic = backend._layout.table(LATEST.name)
    producer = Producer({"bootstrap.servers": pinot_endpoints.kafka_bootstrap})
    for partition, event_ms in ((0, 10), (1, 20)):
        record = {
            "feast_entity_key": "dup",
            "feast_event_ms": event_ms,
            "feast_write_id": "x",
            "v": event_ms,
            "feast_present": ["v"],
        }
        producer.produce(topic, json.dumps(record).encode(), partition=partition)
    assert producer.flush(10) == 0
    backend.write_latest(LATEST.name, [LatestRow("other", 1, {"v": 7})])
    eventually(lambda: backend.read_latest(LATEST.name, ["dup"]) == [LatestRow("dup", 20, {"v": 20})], 120,
               "both rows of 'dup' ingested by Pinot")
    for _ in range(15):  # rows come back in any order; LIMIT 2 may be filled by "dup" twice
        assert backend.read_latest(LATEST.name, ["other", "dup"]) == [
            LatestRow("other", 1, {"v": 7}),
            LatestRow("dup", 20, {"v": 20}),
        ]


def test_without_waiting_a_write_becomes_visible_later(
    pinot_config_factory: Callable[..., PinotOnlineStoreConfig],
) -> None:
    backend = PinotBackend(pinot_config_factory(wait_for_ingestion=False))
    backend.create_tables([LATEST])
    backend.write_latest(LATEST.name, [LatestRow("k", 3, {"v": 3})])
    eventually(lambda: backend.read_latest(LATEST.name, ["k"]) != [None], 120, "the write visible in Pinot")
    assert backend.read_latest(LATEST.name, ["k"]) == [LatestRow("k", 3, {"v": 3})]
    backend.close()
