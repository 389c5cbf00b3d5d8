"""The offsets handled but not yet committed, and their commit to Kafka.

An offset is committed only after what it covers is durable: the caller makes
the sinks durable first (``Ingester.checkpoint``). Each commit carries its
partition's generation as Kafka offset metadata (see
:mod:`stream_ingest.runner.incarnations`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from stream_ingest.errors import BrokerUnavailableError
from stream_ingest.marks import Partition
from stream_ingest.records import RawEvent
from stream_ingest.retry import Failure, RetryPolicy, classify, describe, with_retries

__all__ = ["Checkpoints"]

log = logging.getLogger("stream_ingest")
# The group no longer knows this member (e.g. after an outage longer than the
# session timeout): retrying cannot succeed until it rejoins.
_MEMBERSHIP_LOST = (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS)


class Checkpoints:
    """Positions to commit, when a checkpoint is due, and the commit itself."""

    def __init__(
        self, consumer: Consumer, retry: RetryPolicy, interval_ms: int, metadata: Callable[[Partition], str],
    ) -> None:
        self._consumer = consumer
        self._retry = retry
        self._interval_s = interval_ms / 1000
        self._metadata = metadata
        self._next: dict[Partition, int] = {}  # next offset to commit
        self._failures = 0  # consecutive commit failures, over checkpoints
        self._last = time.monotonic()

    @property
    def pending(self) -> bool:
        return bool(self._next)

    def handled(self, events: Sequence[RawEvent]) -> None:
        for event in events:
            self._next[(event.topic, event.partition)] = event.offset + 1

    def due(self, offline_full: bool) -> bool:
        return self.pending and (offline_full or time.monotonic() - self._last >= self._interval_s)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Partitions whose positions mean nothing now (given away, or a new incarnation)."""
        for tp in partitions:
            self._next.pop(tp, None)

    def commit(self) -> None:
        """At a checkpoint: a failure is tried again at the next one, ``retry.attempts``
        checkpoints in a row at most (then :class:`BrokerUnavailableError`)."""
        self._last = time.monotonic()
        try:
            self._commit(self._offsets())
        except KafkaException as exc:
            self._failures += 1
            attempts = self._retry.attempts
            if classify(exc) is not Failure.TRANSIENT or self._failures >= attempts:
                raise BrokerUnavailableError(
                    f"offset commit failed {self._failures} time(s); last error: {describe(exc)}") from exc
            log.warning("offset commit failed (attempt %d/%d): %s; retrying at the next checkpoint",
                        self._failures, attempts, describe(exc))
            return
        self._failures = 0
        self._next.clear()

    def commit_now(self) -> None:
        """Before stopping or handing partitions over: the commit retried in place."""
        self._last = time.monotonic()
        offsets = self._offsets()
        with_retries(lambda: self._commit(offsets), "offset commit", self._retry, BrokerUnavailableError)
        self._next.clear()

    def _offsets(self) -> list[TopicPartition]:
        return [TopicPartition(t, p, o, metadata=self._metadata((t, p))) for (t, p), o in self._next.items()]

    def _commit(self, offsets: list[TopicPartition]) -> None:
        if not offsets:  # e.g. every partition started a new incarnation meanwhile
            return
        try:
            done = self._consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                self._commit_where_known(offsets)
                return
            if not isinstance(err, KafkaError) or err.code() not in _MEMBERSHIP_LOST:
                raise
            # What was handled is durable in both sinks; the partitions' next owner
            # (maybe this process, once it rejoins) replays it, and the sinks skip
            # what they already hold.
            log.warning("offsets not committed, group membership lost (%s); "
                        "the partitions' next owner replays from the last commit", err.str())
            return
        failed = [tp for tp in done if tp.error]
        if failed:
            log.warning("commit refused for %s", ", ".join(f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in failed))
            raise KafkaException(failed[0].error)  # its code decides whether a retry can help

    def _commit_where_known(self, offsets: list[TopicPartition]) -> None:
        """The broker refused the commit for a topic it does not know: one deleted under the
        consumer. Kafka drops a deleted topic's committed offsets, and what was read of it is
        durable, so its positions are given up (a recreated topic is found by its new id and
        read as a new incarnation); the other partitions' are committed one by one."""
        if len(offsets) > 1:
            for one in offsets:
                self._commit([one])
            return
        tp = offsets[0]
        log.warning("%s[%d]: offset %d not committed: the broker does not know the topic (deleted while "
                    "being read?); what was read of it is durable", tp.topic, tp.partition, tp.offset)
