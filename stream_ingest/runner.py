"""The Kafka runner: poll -> pipeline -> sinks -> checkpoint -> commit.

Delivery is at-least-once. A micro-batch's actions are in the online store
before the next poll; offsets are committed only at a checkpoint, after the
offline parts and the dead letters of everything handled so far are durable.
A crash replays from the last commit: the online store ignores action ids it
has, and the offline sink skips offsets its mark files say are written.

Before a rebalance takes partitions away, the runner checkpoints, so the next
owner starts exactly where this process stopped. SIGTERM (``stop()``) ends
the loop with a final checkpoint; the process then exits 0.

A partition whose offsets go back (its topic deleted and recreated, a new
cluster) starts a new incarnation: the runner notices a topic id other than
the offline mark's when it first reads the partition, or an offset at or
below the last one it read, and from then on the events carry the next
generation, so their derived ids cannot collide with the old events' ids.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from feast import FeatureStore
from feast.errors import FeatureViewNotFoundException

from feast_pinot import clock
from feast_pinot.client import log_spec
from feast_pinot.errors import DeclarationError
from feast_pinot.offline.parts import resolve_path
from feast_pinot.specs import ActionLogSpec, HistorySpec, spec_of
from stream_ingest.config import IngestConfig, check_against_repo
from stream_ingest.errors import BrokerUnavailableError, ConfigError, IngestError
from stream_ingest.lookups import CachedLookup, FeastLookup, Lookup
from stream_ingest.pipeline import Ingester, Pipeline
from stream_ingest.records import RawEvent
from stream_ingest.retry import Failure, RetryPolicy, classify, describe, with_retries
from stream_ingest.sinks import KafkaDeadLetterSink, OfflineSink, make_online_sink
from stream_ingest.stats import Stats

__all__ = ["KafkaRunner", "build_runner", "open_repo"]

log = logging.getLogger("stream_ingest")
Partition = tuple[str, int]
C = TypeVar("C")
_BROKER_DOWN = (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT)
_REFUSED = (KafkaError._AUTHENTICATION, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)
# The group no longer knows this member (e.g. after an outage longer than the
# session timeout): retrying cannot succeed until it rejoins.
_MEMBERSHIP_LOST = (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS)


class KafkaRunner:
    """Consumes the raw topics in a consumer group and drives an :class:`Ingester`."""

    def __init__(self, config: IngestConfig, ingester: Ingester) -> None:
        self._config = config
        self._ingester = ingester
        self._consumer = kafka_client(Consumer, {
            **kafka_settings(config),
            "group.id": config.kafka.group_id,
            "enable.auto.commit": False,  # committed by _checkpoint, after the sinks
            "auto.offset.reset": config.kafka.auto_offset_reset,
            "session.timeout.ms": config.kafka.session_timeout_ms,
            "heartbeat.interval.ms": config.kafka.heartbeat_interval_ms,
            "fetch.wait.max.ms": config.kafka.fetch_wait_max_ms,
            "error_cb": self.on_error,
        })
        self._admin = kafka_client(AdminClient, kafka_settings(config))  # topic ids
        self._retry = RetryPolicy.from_config(config.retry)
        self._assigned: set[Partition] = set()
        self._uncommitted: dict[Partition, int] = {}  # next offset to commit
        self._commit_failures = 0  # consecutive, over checkpoints
        self._seen: dict[Partition, int] = {}  # last offset read, since assignment
        self._topic_ids: dict[str, str | None] = {}  # as of the first sight or the last check
        self._generations: dict[Partition, int] = {}  # incarnation, since assignment
        self._last_checkpoint = time.monotonic()
        self._last_status = time.monotonic()
        self._down_since: float | None = None
        self._last_probe = 0.0
        self._stopping = False  # a plain bool: set from a signal handler
        self._gave_up = False  # after an IngestError nothing more is committed

    @property
    def stats(self) -> Stats:
        return self._ingester.stats

    @property
    def assigned(self) -> frozenset[Partition]:
        return frozenset(self._assigned)

    def stop(self) -> None:
        """Finish the current batch, checkpoint, commit and return from :meth:`run`."""
        self._stopping = True

    def run(self) -> None:
        self._consumer.subscribe(
            list(self._config.kafka.topics),
            on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost,
        )
        try:
            while not self._stopping:
                self._step()
            self._final_checkpoint()
            log.info("stopped: %s", self.stats.snapshot().line())
        except IngestError:
            self._gave_up = True
            raise
        finally:
            self._consumer.close()  # leaves the group (calls _on_revoke)

    def on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (also fed partition errors from consume)."""
        if err.fatal():
            raise BrokerUnavailableError(f"fatal Kafka error: {err}")
        if err.code() in _REFUSED:  # no retry can help: the credentials or the ACLs must change
            user = self._config.kafka.properties.get("sasl.username")
            raise BrokerUnavailableError(f"Kafka at {self._config.kafka.bootstrap_servers} refused the ingester "
                                         f"(user {user!r}): {err.str()} (check kafka.properties and the ACLs)")
        if err.code() in _BROKER_DOWN:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("broker unreachable (%s); reconnecting, nothing is committed meanwhile", err.str())
            return
        log.warning("Kafka error: %s", err.str())

    # -- the loop -----------------------------------------------------------

    def _step(self) -> None:
        batch = self._config.batch
        events: list[RawEvent] = []
        for msg in self._consumer.consume(batch.max_events, batch.linger_ms / 1000):
            event = self._event(msg)
            if event is None:
                continue
            if self._went_back(event):  # what came before is the old incarnation's
                self._handle(events)
                events = []
                event = self._restart(event)
            events.append(event)
        self._handle(events)
        if self._checkpoint_due():
            self._checkpoint()
        self._watch_broker()
        self._maybe_status()

    def _event(self, msg: Message) -> RawEvent | None:
        err = msg.error()
        if err is not None:
            self.on_error(err)
            return None
        tp = (cast(str, msg.topic()), cast(int, msg.partition()))  # set on every non-error message
        if tp not in self._assigned:
            return None  # fetched just before a revoke: the new owner reads it
        kind, ts = msg.timestamp()
        return RawEvent(
            tp[0], tp[1], cast(int, msg.offset()), msg.key(), msg.value(),
            clock.now_ms() if kind == TIMESTAMP_NOT_AVAILABLE else ts, self._generation(tp),
        )

    def _handle(self, events: list[RawEvent]) -> None:
        if not events:
            return
        self._broker_back()
        self._ingester.handle(events)
        for event in events:
            self._uncommitted[(event.topic, event.partition)] = event.offset + 1

    # -- incarnations ---------------------------------------------------------

    def _generation(self, tp: Partition) -> int:
        if tp not in self._generations:  # first sight since assignment
            generation, recreated = self._ingester.offline.incarnation(tp, self._known_topic_id(tp[0]))
            if recreated:
                self.stats.record_offsets_back()
            self._generations[tp] = generation
        return self._generations[tp]

    def _went_back(self, event: RawEvent) -> bool:
        tp = (event.topic, event.partition)
        last = self._seen.get(tp)
        self._seen[tp] = event.offset
        return last is not None and event.offset <= last

    def _restart(self, event: RawEvent) -> RawEvent:
        """The partition's offsets went back while this process read it: what was handled
        is made durable under the old incarnation, and a new one starts at this event."""
        tp = (event.topic, event.partition)
        log.warning("offsets of %s[%d] went back (offset %d after a later one): the topic was "
                    "recreated or the cluster replaced", tp[0], tp[1], event.offset)
        self._ingester.checkpoint()
        self._topic_ids[tp[0]] = self._topic_id(tp[0])
        self._renew(tp)
        return dataclasses.replace(event, generation=self._generations[tp])

    def _renew(self, tp: Partition) -> None:
        self._uncommitted.pop(tp, None)  # an old incarnation's offset means nothing in the new one
        self._seen.pop(tp, None)
        self._generations[tp] = self._ingester.offline.next_incarnation(tp, self._topic_ids.get(tp[0]))
        self.stats.record_offsets_back()

    def _check_topic_ids(self) -> None:
        """A topic recreated while read need not show offsets going back: the consumer goes
        on from its old position when the new topic is already longer. So at each checkpoint
        the ids are compared; a changed one restarts the topic's partitions from offset 0
        as a new incarnation (what was read of the new topic so far is read again)."""
        for topic in {t for t, _ in self._assigned}:
            known = self._topic_ids.get(topic)
            current = self._topic_id(topic) if known is not None else None
            if current is None or current == known:
                continue
            log.warning("topic %s was recreated while being read (topic id %s, was %s): "
                        "its partitions are read again from offset 0", topic, current, known)
            self._topic_ids[topic] = current
            partitions = [tp for tp in self._assigned if tp[0] == topic]
            self._ingester.offline.forget(partitions)  # their buffered rows: read again under the new generation
            for tp in partitions:
                self._renew(tp)
                self._consumer.seek(TopicPartition(topic, tp[1], OFFSET_BEGINNING))

    def _known_topic_id(self, topic: str) -> str | None:
        if topic not in self._topic_ids:
            self._topic_ids[topic] = self._topic_id(topic)
        return self._topic_ids[topic]

    def _topic_id(self, topic: str) -> str | None:
        """The topic's Kafka id (KIP-516), or None when the broker does not say."""
        try:
            found = self._admin.describe_topics(TopicCollection([topic]), request_timeout=10)[topic].result(15)
        except KafkaException as exc:
            log.warning("topic id of %s unknown (%s)", topic, describe(exc))
            return None
        return str(found.topic_id) if found.topic_id is not None else None

    def _checkpoint_due(self) -> bool:
        if not self._uncommitted:
            return False
        waited_ms = (time.monotonic() - self._last_checkpoint) * 1000
        return self._ingester.offline.full() or waited_ms >= self._config.offline.flush_interval_ms

    def _checkpoint(self) -> None:
        """Offline parts and dead letters durable, then offsets committed; while no broker
        answers, nothing is tried (the outage check alone decides when to give up)."""
        if not self._uncommitted or self._down_since is not None:
            return
        self._check_topic_ids()
        self._ingester.checkpoint()
        self._last_checkpoint = time.monotonic()
        try:
            self._commit(self._offsets())
        except KafkaException as exc:
            self._commit_failures += 1
            attempts = self._retry.attempts
            if classify(exc) is not Failure.TRANSIENT or self._commit_failures >= attempts:
                raise BrokerUnavailableError(
                    f"offset commit failed {self._commit_failures} time(s); last error: {describe(exc)}") from exc
            log.warning("offset commit failed (attempt %d/%d): %s; retrying at the next checkpoint",
                        self._commit_failures, attempts, describe(exc))
            return
        self._commit_failures = 0
        self._uncommitted.clear()

    def _final_checkpoint(self) -> None:
        """Before stopping or handing partitions over: the commit retried in place."""
        if not self._uncommitted:
            return
        self._ingester.checkpoint()
        offsets = self._offsets()
        with_retries(lambda: self._commit(offsets), "offset commit", self._retry, BrokerUnavailableError)
        self._uncommitted.clear()
        self._last_checkpoint = time.monotonic()

    def _offsets(self) -> list[TopicPartition]:
        return [TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items()]

    def _commit(self, offsets: list[TopicPartition]) -> None:
        if not offsets:  # e.g. every partition started a new incarnation meanwhile
            return
        try:
            done = self._consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as exc:
            err = exc.args[0]
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

    # -- broker availability ------------------------------------------------

    def _watch_broker(self) -> None:
        """While the broker is away, probe once a second; give up after the configured time."""
        if self._down_since is None or time.monotonic() - self._last_probe < 1.0:
            return
        self._last_probe = time.monotonic()
        try:
            self._consumer.list_topics(self._config.kafka.topics[0], timeout=1.0)
        except KafkaException:
            down_for = time.monotonic() - self._down_since
            if down_for > self._config.kafka.unavailable_timeout_s:
                raise BrokerUnavailableError(f"no broker reachable for {down_for:.0f} s") from None
            return
        self._broker_back()

    def _broker_back(self) -> None:
        if self._down_since is not None:
            log.warning("broker reachable again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None

    # -- rebalances -----------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        log.info("assigned %s", _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self._gave_up:
            self._final_checkpoint()  # the next owner starts where this process stopped
        self._release(partitions)
        log.info("revoked %s", _names(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Already owned by another member: nothing may be committed for them now.
        self._release(partitions)
        log.warning("lost %s (uncommitted work will be replayed by their new owner)", _names(partitions))

    def _release(self, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned -= gone
        for tp in gone:
            self._uncommitted.pop(tp, None)
            self._seen.pop(tp, None)
            self._generations.pop(tp, None)
            self._topic_ids.pop(tp[0], None)
        self._ingester.offline.forget(gone)

    # -- status -----------------------------------------------------------------

    def _maybe_status(self) -> None:
        if time.monotonic() - self._last_status < self._config.status.interval_s:
            return
        log.info("%s", self.stats.snapshot(self.lag()).line())
        self.stats.new_interval()
        self._last_status = time.monotonic()

    def lag(self) -> int | None:
        """Messages behind the end of the assigned partitions (as of the last fetch)."""
        positions = self._consumer.position([TopicPartition(t, p) for t, p in self._assigned])
        known = []
        for tp in positions:
            # cached=True: the high watermark of the last fetch response. The
            # broker's ListOffsets answer is not used: Tansu 0.6 miscounts it.
            high = self._consumer.get_watermark_offsets(tp, cached=True)[1]
            if tp.offset >= 0 and high >= 0:
                known.append(max(0, high - tp.offset))
        return sum(known) if known or not positions else None


def kafka_settings(config: IngestConfig) -> dict[str, Any]:
    # librdkafka's own stderr log repeats every reconnect attempt; what matters
    # reaches on_error and is logged once per outage ("properties" may override).
    return {"bootstrap.servers": config.kafka.bootstrap_servers, "log_level": 0, **config.kafka.properties}


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"


# -- wiring -------------------------------------------------------------------------


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


def _feature_store(repo: Path) -> FeatureStore:
    if not (repo / "feature_store.yaml").is_file():
        raise ConfigError(f"feast.repo_path: no feature_store.yaml in {repo}")
    try:
        # Feast raises many types here (its own, pydantic's, YAML's, OSError); all mean the repo cannot work.
        store = FeatureStore(repo_path=str(repo))
        store.list_feature_views()
    except Exception as exc:
        raise ConfigError(f"feast.repo_path: the Feast repo {repo} cannot be opened: {describe(exc)}") from None
    return store


def open_repo(config: IngestConfig) -> tuple[FeatureStore, ActionLogSpec]:
    """The Feast store and the target action log, checked against the config."""
    store = _feature_store(config.feast.repo_path)
    try:
        spec = log_spec(store, config.feast.action_log)
    except (DeclarationError, FeatureViewNotFoundException) as exc:
        raise ConfigError(f"feast.action_log: {exc}") from exc
    histories = [s for s in (spec_of(fv, HistorySpec) for fv in store.list_feature_views()) if s is not None]
    check_against_repo(config, spec, histories)
    return store, spec


def build_lookups(config: IngestConfig, store: FeatureStore) -> dict[str, Lookup]:
    return {
        name: CachedLookup(FeastLookup(store, lk.feature, f"lookups.{name}.feature"), lk.ttl_s, lk.max_entries)
        for name, lk in config.ingest_lookups().items()
    }


def build_runner(config: IngestConfig, stats: Stats | None = None) -> KafkaRunner:
    """A runner for ``config``: Feast repo opened and checked, Kafka clients created."""
    store, spec = open_repo(config)
    offline_root = Path(resolve_path(config.feast.repo_path, config.offline.path or spec.path))
    ingester = Ingester(
        Pipeline(config, spec, build_lookups(config, store)),
        make_online_sink(store, spec, config.online.write),
        OfflineSink(offline_root, spec, config.kafka.group_id, config.offline.max_rows),
        KafkaDeadLetterSink(kafka_client(Producer, {**kafka_settings(config), "linger.ms": 5}),
                            config.dead_letter.topic),
        RetryPolicy.from_config(config.retry),
        stats,
    )
    return KafkaRunner(config, ingester)
