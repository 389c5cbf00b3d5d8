"""Producing to Kafka through a confluent_kafka ``Producer``: the one place that waits out a full queue.

Shared by the Pinot store's writer and the ingester (its dead-letter topic and
the local-broker helpers); it takes the producer as given, so it imports no
Kafka client itself. :class:`LibrdkafkaLog` sends a client's own log lines
through Python's logging.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["LibrdkafkaLog", "produce_all", "produce_one"]


class LibrdkafkaLog:
    """librdkafka's log lines (a client's ``logger`` setting) through Python's ``logging``, at INFO at most.

    Without it librdkafka writes to stderr itself: a client that cannot reach
    its broker prints a ``%3|...|FAIL|`` line per reconnect attempt, hundreds a
    minute. What a caller must act on reaches it as the call's own error (and
    ``error_cb``), so these lines are detail: DEBUG/INFO, shown when asked for.
    """

    def __init__(self, name: str, ceiling: int = logging.INFO) -> None:
        self._logger = logging.getLogger(name)
        self._ceiling = ceiling

    def log(self, level: int, msg: str, *args: object) -> None:  # what confluent_kafka calls
        self._logger.log(min(level, self._ceiling), msg, *args)

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
