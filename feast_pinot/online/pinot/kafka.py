"""The write path: one Kafka topic per Pinot table (Pinot has no row insert API).

Messages are keyed by the table's partitioning key (entity key or actor) with
librdkafka's ``murmur2_random`` partitioner, the Java client's default, so the
partition of a key is the one Pinot's ``Murmur`` partition function computes.
Every write is flushed before it returns: a push that returned was acknowledged.

On a secured Kafka (SASL, ACLs: ``kafka_producer_config``) a refused login or a
missing permission is a :class:`~feast_pinot.online.pinot.errors.PinotAuthError`
naming Kafka and the user, raised as soon as librdkafka reports it; what was
queued is purged, so nothing of the write reaches Kafka later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

from feast_pinot.kafka_produce import LibrdkafkaLog, produce_one
from feast_pinot.online.pinot.errors import PinotAuthError, PinotConnectionError, PinotWriteError
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

__all__ = ["KafkaWriter"]

_FLUSH_STEP_S = 0.1  # how often a write looks for a refused login while it waits for acknowledgements


class _Errors:
    """librdkafka's client-level errors (``error_cb``): the first refused login is kept."""

    def __init__(self) -> None:
        self.refused: Any = None

    def __call__(self, error: Any) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._AUTHENTICATION and self.refused is None:
            self.refused = error


class KafkaWriter:
    def __init__(self, config: PinotOnlineStoreConfig) -> None:
        self._config = config
        self._producer: Any = None
        self._errors = _Errors()
        self._lock = threading.Lock()

    def _settings(self, errors: _Errors) -> dict[str, Any]:
        return {"bootstrap.servers": self._config.kafka_bootstrap_servers, "error_cb": errors,
                "logger": LibrdkafkaLog(__name__), **self._config.kafka_producer_config}

    def _get_producer(self) -> Any:
        with self._lock:
            if self._producer is None:
                from confluent_kafka import Producer  # lazy: only the Pinot store writes to Kafka

                self._producer = Producer({"partitioner": "murmur2_random", "linger.ms": 5, "acks": "all",
                                           **self._settings(self._errors)})
            return self._producer

    def _who(self) -> str:
        user = self._config.kafka_producer_config.get("sasl.username")
        return f"user {user!r}" if user else "this client"

    def _refused(self, error: Any, what: str) -> PinotAuthError:
        return PinotAuthError(f"Kafka at {self._config.kafka_bootstrap_servers} refused {self._who()} {what}: "
                              f"{error.str()} (check online_store.kafka_producer_config)")

    def produce(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Produce and wait for every acknowledgement; raise if any message failed."""
        from confluent_kafka import KafkaError

        producer, failures = self._get_producer(), []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(error)

        for key, value in messages:
            produce_one(producer, topic, key, value, delivered)
        deadline = time.monotonic() + self._config.write_timeout_s
        while (remaining := producer.flush(_FLUSH_STEP_S)) and time.monotonic() < deadline:
            if self._errors.refused is not None:
                break
        if self._errors.refused is not None:
            producer.purge()  # nothing of this write may reach Kafka once the login works again
            producer.flush(0)
            raise self._refused(self._errors.refused, f"writing to topic '{topic}'")
        denied = [e for e in failures if e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED]
        if denied:
            raise self._refused(denied[0], f"writing to topic '{topic}' (it needs a WRITE and DESCRIBE ACL)")
        if remaining and not failures:  # nothing refused, Kafka unreachable or slow: transient
            raise PinotConnectionError(
                f"writing {len(messages)} rows to Kafka topic '{topic}': {remaining} unacknowledged after "
                f"{self._config.write_timeout_s} s (is Kafka at {self._config.kafka_bootstrap_servers} reachable?)"
            )
        if failures:
            raise PinotWriteError(
                f"writing {len(messages)} rows to Kafka topic '{topic}' failed: {len(failures)} rejected "
                f"{[e.str() for e in failures[:3]]}, {remaining} unacknowledged after {self._config.write_timeout_s} s"
            )

    def _admin(self, errors: _Errors) -> Any:
        from confluent_kafka.admin import AdminClient

        return AdminClient(self._settings(errors))

    def _admin_failed(self, admin: Any, errors: _Errors, exc: Exception, what: str) -> Exception:
        from confluent_kafka import KafkaError, KafkaException

        admin.poll(0)  # serves error_cb
        if errors.refused is not None:
            return self._refused(errors.refused, what)
        code = exc.args[0].code() if isinstance(exc, KafkaException) else None
        if code in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED):
            return self._refused(exc.args[0], f"{what} (it needs CREATE, DESCRIBE and DELETE ACLs on the topic)")
        if isinstance(exc, KafkaException):
            return PinotConnectionError(f"cannot {what}: {exc}")
        return PinotConnectionError(f"cannot {what}: no answer from "
                                    f"{self._config.kafka_bootstrap_servers} in {self._config.write_timeout_s} s")

    def ensure_topic(self, topic: str) -> Literal["created", "exists"]:
        """Create the topic if it is missing and wait until the broker lists it."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]  # not in its __all__

        errors = _Errors()
        admin = self._admin(errors)
        new = NewTopic(topic, num_partitions=self._config.topic_partitions,
                       replication_factor=self._config.topic_replication)
        outcome: Literal["created", "exists"] = "created"
        try:
            try:
                admin.create_topics([new])[topic].result(self._config.write_timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                outcome = "exists"
            self._wait_listed(admin, topic)
        except (KafkaException, TimeoutError) as exc:
            raise self._admin_failed(admin, errors, exc, f"create Kafka topic '{topic}'") from exc
        return outcome

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

        errors = _Errors()
        admin = self._admin(errors)  # kept alive until the future resolves
        try:
            admin.delete_topics([topic])[topic].result(self._config.write_timeout_s)
            self._wait_listed(admin, topic, listed=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise self._admin_failed(admin, errors, exc, f"delete Kafka topic '{topic}'") from exc
        except TimeoutError as exc:
            raise self._admin_failed(admin, errors, exc, f"delete Kafka topic '{topic}'") from exc

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(self._config.write_timeout_s)
                self._producer = None
