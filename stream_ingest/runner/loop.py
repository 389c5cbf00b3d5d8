"""The runner and its consumer loop: poll -> pipeline -> sinks -> checkpoint -> commit.

:class:`KafkaRunner` opens the Kafka clients when it runs and closes them when
it stops; :class:`ConsumerLoop` is one consumer's loop and its rebalance
callbacks. What they hand off: incarnations (:mod:`.incarnations`), commits
(:mod:`.checkpoints`), broker outages (:mod:`.broker`), the status line
(:mod:`.status`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from feast_pinot import clock
from stream_ingest.config import IngestConfig
from stream_ingest.errors import BrokerUnavailableError, IngestError
from stream_ingest.marks import Marks, Partition
from stream_ingest.pipeline import Ingester
from stream_ingest.records import RawEvent
from stream_ingest.retry import RetryPolicy, with_retries
from stream_ingest.runner.broker import BrokerWatch
from stream_ingest.runner.checkpoints import Checkpoints
from stream_ingest.runner.clients import TopicIds, consumer_settings, kafka_client, kafka_settings
from stream_ingest.runner.incarnations import BEGINNING, Incarnations, commit_metadata, generation_of
from stream_ingest.runner.status import StatusLine
from stream_ingest.stats import Stats

__all__ = ["ConsumerLoop", "KafkaRunner"]

log = logging.getLogger("stream_ingest")


class KafkaRunner:
    """Consumes the raw topics in a consumer group and drives an :class:`Ingester` until :meth:`stop`.

    Building it opens nothing: :meth:`run` opens the Kafka clients (through
    :meth:`connect`) and closes them when it returns.
    """

    def __init__(self, config: IngestConfig, ingester: Ingester, marks: Marks, startup: str = "") -> None:
        self._config = config
        self._startup = startup  # logged when run() starts
        self._ingester = ingester
        self._marks = marks
        self._loop: ConsumerLoop | None = None
        self._stopping = False  # a plain bool: set from a signal handler

    @property
    def stats(self) -> Stats:
        return self._ingester.stats

    @property
    def assigned(self) -> frozenset[Partition]:
        return self._loop.assigned if self._loop is not None else frozenset()

    def stop(self) -> None:
        """Finish the current batch, checkpoint, commit and return from :meth:`run`."""
        self._stopping = True

    def run(self) -> None:
        if self._startup:
            log.info("%s", self._startup)
        with self.connect() as loop:
            while not self._stopping:
                loop.step()
            loop.final_checkpoint()
            log.info("stopped: %s", self.stats.snapshot().line())

    @contextmanager
    def connect(self) -> Iterator[ConsumerLoop]:
        """The clients opened and the topics subscribed; on exit the consumer leaves the group
        (a final checkpoint first, unless an :class:`IngestError` ended the loop)."""
        kafka = self._config.kafka
        user = kafka.properties.get("sasl.username")
        watch = BrokerWatch(kafka.unavailable_timeout_s,
                            f"Kafka at {kafka.bootstrap_servers} refused the ingester (user {user!r})")
        consumer = kafka_client(Consumer, consumer_settings(self._config, watch.on_error))
        try:
            admin = kafka_client(AdminClient, kafka_settings(self._config))
            incarnations = Incarnations(self._marks, TopicIds(admin), self.stats)
            retry = RetryPolicy.from_config(self._config.retry)
            checkpoints = Checkpoints(consumer, retry, self._config.offline.flush_interval_ms,
                                      lambda tp: commit_metadata(incarnations.generation(tp)))
            loop = ConsumerLoop(self._config, self._ingester, consumer, incarnations, checkpoints, watch)
            self._loop = loop
            consumer.subscribe(list(self._config.kafka.topics),
                               on_assign=loop.on_assign, on_revoke=loop.on_revoke, on_lost=loop.on_lost)
            try:
                yield loop
            except IngestError:
                loop.gave_up = True
                raise
        finally:
            consumer.close()  # leaves the group (calls on_revoke)


class ConsumerLoop:
    """One consumer's loop (poll, handle, checkpoint) and its rebalance callbacks."""

    def __init__(
        self, config: IngestConfig, ingester: Ingester, consumer: Consumer, incarnations: Incarnations,
        checkpoints: Checkpoints, watch: BrokerWatch,
    ) -> None:
        self._config = config
        self._ingester = ingester
        self._consumer = consumer
        self._incarnations = incarnations
        self._checkpoints = checkpoints
        self._watch = watch
        self._status = StatusLine(ingester.stats, config.status.interval_s)
        self._retry = RetryPolicy.from_config(config.retry)
        self._assigned: set[Partition] = set()
        self.gave_up = False  # after an IngestError nothing more is committed

    @property
    def assigned(self) -> frozenset[Partition]:
        return frozenset(self._assigned)

    def step(self) -> None:
        """One micro-batch: consume, handle, and checkpoint when one is due."""
        batch = self._config.batch
        events: list[RawEvent] = []
        for msg in self._consumer.consume(batch.max_events, batch.linger_ms / 1000):
            event = self._event(msg)
            if event is None:
                continue
            tp = (event.topic, event.partition)
            if self._incarnations.went_back(tp, event.offset):  # what came before is the old incarnation's
                self._handle(events)
                events = []
                self._ingester.checkpoint()  # durable under the old generation
                self._checkpoints.forget([tp])  # an old incarnation's offset means nothing in the new one
                event = dataclasses.replace(event, generation=self._incarnations.restart(tp, event.offset))
            events.append(event)
        self._handle(events)
        if self._checkpoints.due(self._ingester.offline.full()):
            self.checkpoint()
        self._watch.check(lambda: self._consumer.list_topics(self._config.kafka.topics[0], timeout=1.0))
        self._status.maybe_log(self._consumer, self._assigned)

    def checkpoint(self) -> None:
        """Offline parts and dead letters durable, topic ids checked, then offsets committed.
        While no broker answers, nothing is tried (the outage check alone decides when to give up)."""
        if not self._checkpoints.pending or self._watch.down:
            return
        self._ingester.checkpoint()
        for tp in self._incarnations.recreated(self._assigned):
            self._checkpoints.forget([tp])
            self._consumer.seek(TopicPartition(tp[0], tp[1], BEGINNING))
        self._checkpoints.commit()

    def final_checkpoint(self) -> None:
        """Before stopping or handing partitions over: durable, then committed (retried in place)."""
        if not self._checkpoints.pending:
            return
        self._ingester.checkpoint()
        self._checkpoints.commit_now()

    def _event(self, msg: Message) -> RawEvent | None:
        err = msg.error()
        if err is not None:
            self._watch.on_error(err)
            return None
        tp = (cast(str, msg.topic()), cast(int, msg.partition()))  # set on every non-error message
        if tp not in self._assigned:
            return None  # fetched just before a revoke: the new owner reads it
        kind, ts = msg.timestamp()
        return RawEvent(
            tp[0], tp[1], cast(int, msg.offset()), msg.key(), msg.value(),
            clock.now_ms() if kind == TIMESTAMP_NOT_AVAILABLE else ts, self._incarnations.generation(tp),
        )

    def _handle(self, events: list[RawEvent]) -> None:
        if not events:
            return
        self._watch.back()
        self._ingester.handle(events)
        self._checkpoints.handled(events)

    # -- rebalances -----------------------------------------------------------

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = [(tp.topic, tp.partition) for tp in partitions]
        starts = self._incarnations.assign(tps, self._committed_generations)
        self._assigned |= set(tps)
        if starts:  # not all at their committed offsets: assigned here with the offsets set
            for tp in partitions:
                tp.offset = starts.get((tp.topic, tp.partition), tp.offset)
            if self._incremental():
                consumer.incremental_assign(partitions)
            else:
                consumer.assign(partitions)
        log.info("assigned %s", _names(partitions))

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self.gave_up:
            self.final_checkpoint()  # the next owner starts where this process stopped
        self._release(partitions)
        log.info("revoked %s", _names(partitions))

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Already owned by another member: nothing may be committed for them now.
        self._release(partitions)
        log.warning("lost %s (uncommitted work will be replayed by their new owner)", _names(partitions))

    def _release(self, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned -= gone
        self._checkpoints.forget(gone)
        self._ingester.offline.drop(gone)
        self._incarnations.release(gone)

    def _committed_generations(self, partitions: list[Partition]) -> dict[Partition, int]:
        asked = [TopicPartition(t, p) for t, p in partitions]
        found = with_retries(lambda: self._consumer.committed(asked, timeout=10), "reading committed offsets",
                             self._retry, BrokerUnavailableError)
        return {(tp.topic, tp.partition): generation_of(tp.metadata) for tp in found}

    def _incremental(self) -> bool:
        """Whether the group's protocol changes assignments incrementally (cooperative, KIP-848)."""
        properties = self._config.kafka.properties
        return ("cooperative" in str(properties.get("partition.assignment.strategy", ""))
                or str(properties.get("group.protocol", "")) == "consumer")


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
