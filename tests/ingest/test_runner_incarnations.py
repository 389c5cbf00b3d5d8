"""The runner's incarnation logic on scripted consumer output: offsets that go back within
a batch split it, and a topic id that changes between checkpoints restarts the topic's
partitions from offset 0. (The brokers' side of it: tests/ingest/test_kafka_hardening.py.)"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from feast_pinot.clock import now_ms
from stream_ingest.runner import KafkaRunner, build_runner
from tests.ingest.support import application, ingest_config, interaction, read_offline_log


@dataclass
class FakeMessage:
    topic_: str
    partition_: int
    offset_: int
    value_: bytes

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes:
        return b"1"

    def value(self) -> bytes:
        return self.value_

    def timestamp(self) -> tuple[int, int]:
        return 1, now_ms()


class FakeConsumer:
    """Hands out scripted batches; records commits and seeks."""

    def __init__(self, batches: list[list[FakeMessage]]) -> None:
        self.batches = batches
        self.commits: list[list[tuple[str, int, int]]] = []
        self.seeks: list[tuple[str, int, int]] = []

    def consume(self, _n: int, _timeout: float) -> list[FakeMessage]:
        return self.batches.pop(0) if self.batches else []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])
        return offsets

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))


class FakeFuture:
    def __init__(self, topic_id: str) -> None:
        self.topic_id = topic_id

    def result(self, _timeout: float) -> FakeFuture:
        return self


class FakeAdmin:
    def __init__(self, topic_id: str) -> None:
        self.topic_id = topic_id

    def describe_topics(self, topics: Any, request_timeout: float) -> dict[str, FakeFuture]:
        return {name: FakeFuture(self.topic_id) for name in topics.topic_names}


def scripted_runner(
    repo: Path, batches: list[list[FakeMessage]], admin: FakeAdmin, topic: str = "apps"
) -> tuple[KafkaRunner, FakeConsumer]:
    config = ingest_config(repo, "127.0.0.1:9", "apps", "ints", "dead", "g", offline={"flush_interval_ms": 0})
    runner = build_runner(config)
    consumer = FakeConsumer(batches)
    runner._consumer = consumer  # type: ignore[assignment]  # the seams of this test
    runner._admin = admin  # type: ignore[assignment]
    runner._on_assign(consumer, [TopicPartition(topic, 0)])  # type: ignore[arg-type]
    return runner, consumer


def messages(topic: str, ids: list[tuple[int, str]]) -> list[FakeMessage]:
    make = application if topic == "apps" else lambda i, *_: interaction(1, 3, "view", now_ms() - 1000)
    return [FakeMessage(topic, 0, offset, make(app_id, 1, 3, now_ms() - 1000)) for offset, app_id in ids]


def online_ids(repo: Path) -> list[str]:
    with sqlite3.connect(repo / "data" / "online_store.db") as db:
        rows = db.execute("SELECT action_id FROM jobs_member_actions WHERE action_id LIKE 'ints/%'")
        return sorted(r[0] for r in rows)


def test_offsets_going_back_in_one_batch_start_a_new_incarnation_at_that_event(repo: Path) -> None:
    batch = messages("ints", [(5, ""), (6, ""), (0, ""), (1, "")])
    runner, consumer = scripted_runner(repo, [batch], FakeAdmin("T1"), "ints")
    runner._step()
    ids = ["ints/0/0@g1", "ints/0/1@g1", "ints/0/5", "ints/0/6"]  # the new events do not collide with 0 and 1
    assert online_ids(repo) == ids
    assert sorted(read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()) == ids
    marks = repo / "data" / "member_actions" / "_ingest_offsets" / "g" / "ints-0.json"
    assert json.loads(marks.read_text()) == {"next_offset": 2, "generation": 1, "topic_id": "T1"}
    assert consumer.commits == [[("ints", 0, 2)]]  # the old incarnation's offset 7 is never committed
    assert runner.stats.snapshot().offsets_went_back == 1
    assert "offsets went back 1" in runner.stats.snapshot().line()


def test_a_topic_id_that_changes_between_checkpoints_restarts_its_partitions_from_0(repo: Path) -> None:
    admin = FakeAdmin("T1")
    runner, consumer = scripted_runner(repo, [messages("apps", [(5, "a")]), messages("apps", [(6, "b")])], admin)
    runner._step()  # first sight: T1, generation 0, checkpointed
    admin.topic_id = "T2"  # recreated meanwhile; the consumer goes on from its old position
    runner._step()
    assert consumer.seeks == [("apps", 0, OFFSET_BEGINNING)]
    marks = repo / "data" / "member_actions" / "_ingest_offsets" / "g" / "apps-0.json"
    assert json.loads(marks.read_text()) == {"next_offset": 0, "generation": 1, "topic_id": "T2"}
    assert runner.stats.snapshot().offsets_went_back == 1
    # "b" was read under the old generation before the check: its row is dropped, to be read again
    assert read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist() == ["a"]
    assert consumer.commits == [[("apps", 0, 6)]]
