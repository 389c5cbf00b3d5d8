"""The one produce loop: a full local queue is waited out, never raised, and every failure is reported."""

from __future__ import annotations

from typing import Any

from feast_pinot.kafka_produce import produce_all, produce_one


class _Producer:
    """librdkafka's contract in miniature: ``produce`` raises BufferError while ``capacity`` messages wait."""

    def __init__(self, capacity: int, fail: set[bytes] = frozenset(), unacked: int = 0) -> None:
        self.capacity, self.fail, self.unacked = capacity, fail, unacked
        self.queued: list[tuple[bytes | None, bytes | None, Any]] = []
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.polls = 0
        self.topic = ""

    def produce(self, topic: str, value: bytes | None, key: bytes | None, on_delivery: Any) -> None:
        if len(self.queued) >= self.capacity:
            raise BufferError("Local: Queue full")
        self.topic = topic
        self.queued.append((key, value, on_delivery))

    def poll(self, _timeout: float) -> int:
        self.polls += 1
        served, self.queued = self.queued, []
        for key, value, callback in served:
            self.sent.append((self.topic, key, value))
            callback(f"refused {value!r}" if value in self.fail else None, None)
        return len(served)

    def flush(self, _timeout: float) -> int:
        self.poll(0)
        return self.unacked


def test_a_full_queue_is_drained_by_polling_and_every_message_is_sent_in_order() -> None:
    producer = _Producer(capacity=2)
    messages = [(str(i).encode(), f"v{i}".encode()) for i in range(5)]
    assert produce_all(producer, "t", messages, 1.0) == (0, [])
    assert producer.sent == [("t", k, v) for k, v in messages]
    assert producer.polls == 3  # two waits for room, then the flush


def test_rejected_and_unacknowledged_messages_are_reported() -> None:
    producer = _Producer(capacity=10, fail={b"v1", b"v2"}, unacked=1)
    remaining, failures = produce_all(producer, "t", [(None, b"v0"), (b"k", b"v1"), (b"k", b"v2")], 1.0)
    assert (remaining, failures) == (1, ["refused b'v1'", "refused b'v2'"])


def test_one_message_waits_for_room_and_keeps_its_callback() -> None:
    producer = _Producer(capacity=1)
    seen: list[Any] = []
    produce_one(producer, "t", b"a", b"1", lambda err, _msg: seen.append(err))
    produce_one(producer, "t", b"b", b"2", lambda err, _msg: seen.append(err))
    assert (producer.polls, producer.sent, seen) == (1, [("t", b"a", b"1")], [None])
