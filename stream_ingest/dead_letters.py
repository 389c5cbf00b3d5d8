"""``python -m stream_ingest.dead_letters --config ingest.yaml``: print the ingester's dead letters.

Reads the config's ``dead_letter.topic`` from the beginning to the end it has
now (oldest first per partition) and prints each letter: where the event came
from, the step that refused it, the reason, and the event's payload (as text,
or base64 when it is not UTF-8). It joins no consumer group and commits
nothing, so reading changes nothing for the ingester or another reader.

Exit codes: 0 when every letter was printed, 2 for a bad config, 3 when Kafka
did not answer within ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from confluent_kafka import Consumer, KafkaException, TopicPartition

from stream_ingest.config import IngestConfig, load_config
from stream_ingest.errors import ConfigError
from stream_ingest.records import DeadLetter
from stream_ingest.retry import describe
from stream_ingest.runner.clients import kafka_client, kafka_settings
from stream_ingest.sinks import decode_dead_letter

__all__ = ["format_letter", "main", "read_dead_letters"]

_POLL_S = 1.0


def _consumer(config: IngestConfig) -> Consumer:
    # a group id librdkafka wants; nothing is ever committed under it (assign, no commits)
    settings = {**kafka_settings(config), "group.id": f"{config.kafka.group_id}-dead-letter-reader",
                "enable.auto.commit": False, "enable.partition.eof": False}
    return kafka_client(Consumer, settings)


def _ends(consumer: Consumer, topic: str, timeout_s: float) -> dict[int, tuple[int, int]]:
    """Each partition's (first, next) offset now; no entry for the topic if it does not exist."""
    metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return {}
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            for p in sorted(metadata.partitions)}


def read_dead_letters(config: IngestConfig, timeout_s: float = 30.0) -> Iterator[tuple[int, int, DeadLetter]]:
    """``(partition, offset, letter)`` of every letter in the dead-letter topic now, oldest first per partition."""
    topic = config.dead_letter.topic
    consumer = _consumer(config)
    try:
        pending = {p: (low, high) for p, (low, high) in _ends(consumer, topic, timeout_s).items() if high > low}
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in pending.items()])
        while pending:
            message = consumer.poll(_POLL_S)
            if message is None:
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            partition, offset, value = message.partition(), message.offset(), message.value()
            if partition is None or offset is None:  # only for errors, raised above
                continue
            if value is not None:  # a tombstone (a compacted topic's deletion) is no letter
                yield partition, offset, decode_dead_letter(value)
            if partition in pending and offset + 1 >= pending[partition][1]:
                del pending[partition]
    finally:
        consumer.close()


def _payload(data: bytes | None) -> str:
    if data is None:
        return "(none)"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def format_letter(partition: int, offset: int, letter: DeadLetter) -> str:
    """A letter as the command prints it: a heading line, then step, reason and payload."""
    event = letter.event
    when = datetime.fromtimestamp(event.timestamp_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (f"#{partition}/{offset}  from {event.source_id} (produced {when})\n"
            f"  step:    {letter.step}\n"
            f"  reason:  {letter.reason}\n"
            f"  payload: {_payload(event.value)}\n")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stream_ingest.dead_letters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="the ingester's YAML config")
    parser.add_argument("--bootstrap-servers", help="overrides kafka.bootstrap_servers")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds Kafka may take to answer (default 30)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _args(argv)
    try:
        config = load_config(args.config, args.bootstrap_servers)
    except ConfigError as exc:
        print(f"dead letters: {exc}", file=sys.stderr)
        return 2
    count = 0
    try:
        for partition, offset, letter in read_dead_letters(config, args.timeout):
            print(format_letter(partition, offset, letter), file=out)
            count += 1
    except ConfigError as exc:  # kafka.properties librdkafka refuses
        print(f"dead letters: {exc}", file=sys.stderr)
        return 2
    except KafkaException as exc:
        print(f"dead letters: Kafka at {config.kafka.bootstrap_servers}: {describe(exc)}", file=sys.stderr)
        return 3
    print(f"{count} dead letter(s) in {config.dead_letter.topic}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
