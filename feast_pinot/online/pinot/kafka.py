"""The write path: one Kafka topic per Pinot table (Pinot has no row insert API).

Messages are keyed by the table's partitioning key (entity key or actor) with
librdkafka's ``murmur2_random`` partitioner, the Java client's default, so the
partition of a key is the one Pinot's ``Murmur`` partition function computes.
Every write is flushed before it returns: a push that returned was acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from feast_pinot.kafka_produce import produce_all
from feast_pinot.online.pinot.errors import PinotConnectionError, PinotWriteError
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

__all__ = ["KafkaWriter"]


class KafkaWriter:
    def __init__(self, config: PinotOnlineStoreConfig) -> None:
        self._config = config
        self._producer: Any = None
        self._lock = threading.Lock()

    def _get_producer(self) -> Any:
        with self._lock:
            if self._producer is None:
                from confluent_kafka import Producer  # lazy: only the Pinot store writes to Kafka

                self._producer = Producer({
                    "bootstrap.servers": self._config.kafka_bootstrap_servers,
                    "partitioner": "murmur2_random",
                    "linger.ms": 5,
                    "acks": "all",
                    **self._config.kafka_producer_config,
                })
            return self._producer

    def produce(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Produce and wait for every acknowledgement; raise if any message failed."""
        remaining, failures = produce_all(self._get_producer(), topic, messages, self._config.write_timeout_s)
        if remaining and not failures:  # nothing refused, Kafka unreachable or slow: transient
            raise PinotConnectionError(
                f"writing {len(messages)} rows to Kafka topic '{topic}': {remaining} unacknowledged after "
                f"{self._config.write_timeout_s} s (is Kafka at {self._config.kafka_bootstrap_servers} reachable?)"
            )
        if failures:
            raise PinotWriteError(
                f"writing {len(messages)} rows to Kafka topic '{topic}' failed: {len(failures)} rejected "
                f"{failures[:3]}, {remaining} unacknowledged after {self._config.write_timeout_s} s"
            )

    def _admin(self) -> Any:
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self._config.kafka_bootstrap_servers,
                            **self._config.kafka_producer_config})

    def ensure_topic(self, topic: str) -> None:
        """Create the topic if it is missing and wait until the broker lists it."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]  # not in its __all__

        admin = self._admin()
        new = NewTopic(topic, num_partitions=self._config.topic_partitions,
                       replication_factor=self._config.topic_replication)
        try:
            admin.create_topics([new])[topic].result(self._config.write_timeout_s)
            self._wait_listed(admin, topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise PinotConnectionError(f"cannot create Kafka topic '{topic}': {exc}") from exc
            self._wait_listed(admin, topic)
        except TimeoutError as exc:
            raise PinotConnectionError(
                f"cannot create Kafka topic '{topic}': no answer from "
                f"{self._config.kafka_bootstrap_servers} in {self._config.write_timeout_s} s"
            ) from exc

    def _wait_listed(self, admin: Any, topic: str, listed: bool = True) -> None:
        # Pinot's controller reads the topic's partitions from metadata when the table is created;
        # a deleted topic stays listed a while, and re-creating it meanwhile fails.
        deadline = time.monotonic() + self._config.ingestion_timeout_s
        while (topic in admin.list_topics(timeout=self._config.write_timeout_s).topics) != listed:
            if time.monotonic() > deadline:
                state = "not listed" if listed else "still listed"
                raise PinotConnectionError(
                    f"Kafka topic '{topic}' is {state} after "
                    f"{self._config.ingestion_timeout_s} s (being deleted or created?)"
                )
            time.sleep(0.2)

    def delete_topic(self, topic: str) -> None:
        from confluent_kafka import KafkaError, KafkaException

        admin = self._admin()  # kept alive until the future resolves
        try:
            admin.delete_topics([topic])[topic].result(self._config.write_timeout_s)
            self._wait_listed(admin, topic, listed=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise PinotConnectionError(f"cannot delete Kafka topic '{topic}': {exc}") from exc
        except TimeoutError as exc:
            raise PinotConnectionError(
                f"cannot delete Kafka topic '{topic}': no answer from "
                f"{self._config.kafka_bootstrap_servers} in {self._config.write_timeout_s} s"
            ) from exc

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(self._config.write_timeout_s)
                self._producer = None
