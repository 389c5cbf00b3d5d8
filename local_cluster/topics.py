"""Kafka topics for development and tests: wait for a broker, create topics, produce, read back.

    wait_ready(bootstrap)
    create_topics(bootstrap, ["job-applications"], partitions=4)
    produce(bootstrap, "job-applications", [(key, value), ...])   # returns once every one is acknowledged
    read_topic(bootstrap, "member-actions-dead-letters", expected=1)

They work on any Kafka-protocol broker: the local Apache Kafka
(:mod:`local_cluster.kafka`), the Tansu development broker
(:mod:`local_cluster.tansu`) or ``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from feast_pinot.kafka_produce import produce_all

from .errors import LocalClusterError, StartError
from .polling import eventually

__all__ = ["FAST_GROUP_SETTINGS", "create_topics", "produce", "read_topic", "wait_ready"]

# Consumer-group joins take ~3 s with these instead of ~23 s with librdkafka's defaults.
FAST_GROUP_SETTINGS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def wait_ready(bootstrap: str, timeout_s: float = 60.0) -> None:
    """Return once the broker answers a metadata request; ``StartError`` after ``timeout_s``."""
    # librdkafka would log each refused connect of a broker still starting; the timeout error says enough.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})

    def answers() -> bool:
        try:
            admin.list_topics(timeout=1.0)
        except KafkaException:
            return False
        return True

    try:
        eventually(answers, timeout_s, f"a Kafka broker at {bootstrap}")
    except TimeoutError as exc:
        raise StartError(f"no Kafka broker answered at {bootstrap} within {timeout_s} s") from exc


def create_topics(bootstrap: str, names: list[str], partitions: int = 1, exist_ok: bool = False) -> None:
    """Create the topics; ``exist_ok``: keep one that exists (fixed names on a long-lived broker)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    for future in futures.values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if not (exist_ok and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise


def produce(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]], timeout_s: float = 60.0
) -> None:
    """Produce ``(key, value)`` messages and wait until every one is acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    remaining, errors = produce_all(producer, topic, messages, timeout_s)
    if remaining or errors:
        raise LocalClusterError(f"producing {len(messages)} messages to {topic} failed: "
                                f"{remaining} unacknowledged, errors {errors[:3]}")


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[Message]:
    """Every message of ``topic``, read from the start (no group: no join wait), once there
    are at least ``expected``: reading goes on to the end of every partition (the high
    watermark of the broker's last fetch answer), so that extra messages, which a test
    must catch, are read too. Call it once the topic's writers are done."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "readers", "enable.auto.commit": False})
    got: list[Message] = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assigned = [TopicPartition(topic, p, 0) for p in partitions]
        consumer.assign(assigned)

        def read_all() -> bool:
            got.extend(m for m in consumer.consume(500, 0.2) if m.error() is None)
            return len(got) >= expected and _at_end(consumer, assigned)

        eventually(read_all, timeout_s, f"{expected} message(s) in {topic}")
    finally:
        consumer.close()
    return got


def _at_end(consumer: Consumer, partitions: list[TopicPartition]) -> bool:
    """Every partition read up to the high watermark its last fetch answer reported."""
    for tp in consumer.position(partitions):
        # cached: the fetch answer's own figure (Tansu miscounts ListOffsets); below 0 before the first answer
        high = consumer.get_watermark_offsets(tp, cached=True)[1]
        if high < 0 or max(tp.offset, 0) < high:
            return False
    return True
