"""The runner's Kafka clients: their settings, their creation, and the topic ids the admin client reads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

from stream_ingest.config import IngestConfig
from stream_ingest.errors import ConfigError
from stream_ingest.retry import describe

__all__ = ["TopicIds", "consumer_settings", "kafka_client", "kafka_settings"]

log = logging.getLogger("stream_ingest")
C = TypeVar("C")


def kafka_settings(config: IngestConfig) -> dict[str, Any]:
    """What every client of the ingester shares ("properties" may override it)."""
    # librdkafka's own stderr log repeats every reconnect attempt; what matters
    # reaches the error callback and is logged once per outage.
    return {"bootstrap.servers": config.kafka.bootstrap_servers, "log_level": 0, **config.kafka.properties}


def consumer_settings(config: IngestConfig, on_error: Callable[[KafkaError], None]) -> dict[str, Any]:
    return {
        **kafka_settings(config),
        "group.id": config.kafka.group_id,
        "enable.auto.commit": False,  # committed at checkpoints, after the sinks
        "auto.offset.reset": config.kafka.auto_offset_reset,
        "session.timeout.ms": config.kafka.session_timeout_ms,
        "heartbeat.interval.ms": config.kafka.heartbeat_interval_ms,
        "fetch.wait.max.ms": config.kafka.fetch_wait_max_ms,
        "error_cb": on_error,
    }


def kafka_client(kind: Callable[[dict[str, Any]], C], settings: dict[str, Any]) -> C:
    """A librdkafka client; settings it refuses are a config error."""
    try:
        return kind(settings)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else exc
        text = err.str() if isinstance(err, KafkaError) else str(err)
        raise ConfigError(f"kafka.properties: librdkafka refused the settings: {text}") from None
    except (ValueError, TypeError) as exc:  # a value of a type librdkafka cannot take
        raise ConfigError(f"kafka.properties: librdkafka refused the settings: {exc}") from None


class TopicIds:
    """Topics' Kafka ids (KIP-516), asked of the broker each time: a recreated topic has a new one."""

    def __init__(self, admin: AdminClient, timeout_s: float = 10.0) -> None:
        self._admin = admin
        self._timeout_s = timeout_s

    def __call__(self, topics: Collection[str]) -> dict[str, str | None]:
        """Each topic's id, or None when the broker does not say (no ids, topic missing, no answer)."""
        if not topics:
            return {}
        try:
            futures = self._admin.describe_topics(TopicCollection(sorted(topics)), request_timeout=self._timeout_s)
        except KafkaException as exc:
            log.warning("topic ids of %s unknown (%s)", ", ".join(sorted(topics)), describe(exc))
            return dict.fromkeys(topics)
        return {topic: self._id(topic, future) for topic, future in futures.items()}

    def _id(self, topic: str, future: Any) -> str | None:
        try:
            found = future.result(self._timeout_s + 5)
        except KafkaException as exc:
            log.warning("topic id of %s unknown (%s)", topic, describe(exc))
            return None
        return str(found.topic_id) if found.topic_id is not None else None
