"""Producing to Kafka through a confluent_kafka ``Producer``: the one place that waits out a full queue.

Shared by the Pinot store's writer and the ingester (its dead-letter topic and
the local-broker helpers); it takes the producer as given, so it imports no
Kafka client itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["produce_all", "produce_one"]

# How long a producer whose local queue is full serves delivery callbacks before trying again.
_DRAIN_S = 0.05


def produce_one(producer: Any, topic: str, key: bytes | None, value: bytes | None,
                on_delivery: Callable[[Any, Any], None]) -> None:
    """Queue one message; while librdkafka's local queue is full, let deliveries drain it."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(_DRAIN_S)


def produce_all(producer: Any, topic: str, messages: Sequence[tuple[bytes | None, bytes]],
                timeout_s: float) -> tuple[int, list[str]]:
    """Queue ``(key, value)`` messages and flush: ``(unacknowledged count, delivery errors)``."""
    failures: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    for key, value in messages:
        produce_one(producer, topic, key, value, delivered)
    return producer.flush(timeout_s), failures
