"""What Pinot does to STRING values, and how the store keeps it from altering data.

Pinot's ``SanitizationTransformer`` cuts a STRING value at its first NUL
character and past the column's ``maxLength`` (``StringUtil.sanitizeStringValue``
in Pinot 0.11). Two action ids differing only after a NUL would be stored as
one and deduplicated against each other, so every Pinot write path refuses
such values before anything reaches Kafka. Pinot's SQL cannot match a value
holding two consecutive single quotes, so ids and actors holding them are
refused too, and reads of such actors raise.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from feast_pinot.actions import Action
from feast_pinot.errors import ActionValidationError
from feast_pinot.online.backend import HistoryWindow, LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.pinot.errors import PinotActionError, PinotValueError, PinotWriteError
from tests.fixtures.pinot import PinotEndpoints

PROFILE = TableSpec("s_profile", "latest", columns=(("label", "String"), ("tags", "Array(String)")))
ACTIONS = TableSpec("s_actions", "actions", actor_is_int=False)
WIDE = HistoryWindow(0, 10**13, 100)


@pytest.fixture
def backend(pinot_config_factory: Callable[..., PinotOnlineStoreConfig]) -> PinotBackend:
    made = PinotBackend(pinot_config_factory())
    made.create_tables([PROFILE, ACTIONS])
    return made


def _messages(endpoints: PinotEndpoints, topic: str) -> int:
    """How many messages the topic holds (sum of its partitions' high watermarks)."""
    consumer = Consumer({"bootstrap.servers": endpoints.kafka_bootstrap, "group.id": "watermarks"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def test_pinot_cuts_strings_at_nul_and_dedups_what_is_left(backend: PinotBackend,
                                                            pinot_endpoints: PinotEndpoints) -> None:
    """The hazard itself, produced around the store: two actions become one."""
    table = backend._layout.table(ACTIONS.name)
    # The store's partitioner: the marker appended below lands behind these records.
    producer = Producer({"bootstrap.servers": pinot_endpoints.kafka_bootstrap, "partitioner": "murmur2_random"})
    for aid, ts in (("a\0first", 10), ("a\0second", 20)):
        record = {"action_id": aid, "actor": "m\0x", "verb": "view", "object": "job:1", "timestamp": ts}
        producer.produce(table, json.dumps(record).encode(), key=b"m")
    assert producer.flush(10) == 0
    backend.append_actions(ACTIONS.name, [Action("marker", "m", "view", "job:2", 30, None, "{}")], WIDE)
    history = backend.read_histories(ACTIONS.name, ["m"], WIDE)[0]
    # Both ids and the actor were cut at the NUL; the second action was dropped as a duplicate of "a".
    assert (history.action_ids, history.ts_ms) == (("marker", "a"), (30, 10))


@pytest.mark.parametrize("field", ["action_id", "actor", "verb", "object"])
def test_actions_holding_nul_are_refused_before_kafka(backend: PinotBackend, pinot_endpoints: PinotEndpoints,
                                                      field: str) -> None:
    fine = Action("ok", "m", "view", "job:1", 10, None, "{}")
    values = {"action_id": "ok2", "actor": "m", "verb": "view", "object": "job:2"}
    values[field] = values[field] + "\0tail"
    bad = Action(values["action_id"], values["actor"], values["verb"], values["object"], 20, None, "{}")
    with pytest.raises(PinotActionError) as raised:
        backend.append_actions(ACTIONS.name, [fine, bad, fine], WIDE)
    assert isinstance(raised.value, ActionValidationError) and isinstance(raised.value, PinotWriteError)
    position = len(values[field]) - len("\0tail")
    assert raised.value.problems == [(1, f"column {field!r}: a value holds a NUL character at position "
                                         f"{position}; Pinot cuts STRING values at the first NUL")]
    assert _messages(pinot_endpoints, backend._layout.table(ACTIONS.name)) == 0  # nothing half-written


def test_latest_values_holding_nul_are_refused_before_kafka(backend: PinotBackend,
                                                            pinot_endpoints: PinotEndpoints) -> None:
    good = LatestRow("k1", 1, {"label": "fine", "tags": ["a"]})
    for values, column in (({"label": "x\0y", "tags": []}, "label"), ({"label": "x", "tags": ["a", "\0"]}, "tags")):
        with pytest.raises(PinotWriteError, match=f"column '{column}': a value holds a NUL character"):
            backend.write_latest(PROFILE.name, [good, LatestRow("k2", 1, values)])
    assert _messages(pinot_endpoints, backend._layout.table(PROFILE.name)) == 0
    backend.write_latest(PROFILE.name, [good])
    assert backend.read_latest(PROFILE.name, ["k1", "k2"]) == [good, None]


def test_ids_and_actors_pinot_sql_cannot_match_are_refused(backend: PinotBackend,
                                                           pinot_endpoints: PinotEndpoints) -> None:
    """Pinot unescapes '' twice (Calcite, then RequestUtils): "it''s" would be looked up as "it's"."""
    quoted = [
        Action("it''s", "m", "view", "job:1", 10, None, "{}"),
        Action("ok", "it''s", "view", "job:1", 10, None, "{}"),
    ]
    with pytest.raises(PinotActionError) as raised:
        backend.append_actions(ACTIONS.name, quoted, WIDE)
    assert [(i, reason.split(":")[0]) for i, reason in raised.value.problems] == [
        (0, "column 'action_id'"),
        (1, "column 'actor'"),
    ]
    assert "holds two consecutive single quotes, which Pinot's SQL parser reads as one" in raised.value.problems[0][1]
    assert _messages(pinot_endpoints, backend._layout.table(ACTIONS.name)) == 0
    backend.append_actions(ACTIONS.name, [Action("a1", "it's", "view", "job:1", 10, None, "{}")], WIDE)
    with pytest.raises(PinotValueError, match="no query could match it exactly"):
        backend.read_histories(ACTIONS.name, ["it''s"], WIDE)  # would return the actions of "it's"
    assert backend.read_histories(ACTIONS.name, ["it's"], WIDE)[0].action_ids == ("a1",)


def test_strings_past_max_length_are_refused_per_action(backend: PinotBackend) -> None:
    long = Action("x" * 513, "m", "view", "job:1", 10, None, "{}")
    with pytest.raises(
        PinotActionError,
        match="action 0: column 'action_id': a value of 513 characters exceeds maxLength 512; Pinot would truncate it",
    ):
        backend.append_actions(ACTIONS.name, [long], WIDE)
