"""REALTIME ingestion: one low-level consumer thread per table.

Like a Pinot server, the consumer assigns itself every partition of the topic
named in the table's stream config (no consumer group), starts at the offset
``auto.offset.reset`` names, decodes each message value with the JSON decoder
(the Kafka key is not part of the row), transforms it by the schema and indexes
it. ``visibility_delay_s`` holds consumed batches back before indexing, so
clients that poll for their writes are exercised.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.pinot_standin.storage import Storage, TableData
from tests.pinot_standin.transform import RecordError, transform

__all__ = ["Ingester", "topic_partitions"]


def topic_partitions(bootstrap: str, topic: str, timeout_s: float = 5.0) -> int | None:
    """Partition count of an existing topic, None if it does not exist.

    Lists all topics rather than asking for one: a metadata request naming a
    topic can auto-create it on brokers that allow that.
    """
    try:
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout_s)
    except KafkaException:
        return None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return None
    return len(found.partitions)


class Ingester(threading.Thread):
    def __init__(self, storage: Storage, data: TableData, partitions: int, visibility_delay_s: float) -> None:
        super().__init__(name=f"pinot-standin-ingest-{data.table.name}", daemon=True)
        self._storage = storage
        self._data = data
        self._partitions = partitions
        self._delay = visibility_delay_s
        self._stop_event = threading.Event()
        self._pending: deque[tuple[float, int, list[dict[str, Any]]]] = deque()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def run(self) -> None:
        stream = self._data.table.stream
        consumer = Consumer({
            "bootstrap.servers": stream.bootstrap,
            "group.id": f"pinot-standin-{self._data.duck_name}",  # required by librdkafka; never joined
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,  # freshness over broker load, as a Pinot server polling a hot topic
        })
        start = OFFSET_BEGINNING if stream.offset_reset == "smallest" else OFFSET_END
        consumer.assign([TopicPartition(stream.topic, p, start) for p in range(self._partitions)])
        try:
            while not self._stop_event.is_set():
                self._consume(consumer)
                self._index_due()
        except Exception as exc:  # keep the reason where tests and operators look
            self._data.dropped.append(f"ingestion stopped: {type(exc).__name__}: {exc}")
            raise
        finally:
            consumer.close()

    def _consume(self, consumer: Consumer) -> None:
        by_partition: dict[int, list[dict[str, Any]]] = {}
        # poll() returns at the first message (consume() would wait out its timeout), then drain.
        first = consumer.poll(timeout=0.02)
        messages = [] if first is None else [first, *consumer.consume(num_messages=1000, timeout=0)]
        for message in messages:
            if message.error() is not None:
                self._data.dropped.append(f"consumer error: {message.error()}")
                continue
            row = self._decode(message.value())
            if row is not None:
                by_partition.setdefault(message.partition() or 0, []).append(row)
        due = time.monotonic() + self._delay
        for partition, rows in by_partition.items():
            self._pending.append((due, partition, rows))

    def _decode(self, value: bytes | None) -> dict[str, Any] | None:
        try:
            record = json.loads(value or b"")
            if not isinstance(record, dict):
                raise RecordError(f"a JSON message must be an object, got {type(record).__name__}")
            return transform(record, self._data.schema)
        except (ValueError, RecordError) as exc:
            self._data.dropped.append(f"{type(exc).__name__}: {exc}")
            return None

    def _index_due(self) -> None:
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            _, partition, rows = self._pending.popleft()
            self._storage.ingest(self._data, partition, rows)
