"""Where the pipeline's output goes: the online store, the offline log, the dead-letter topic.

* Online: every micro-batch, through the action log's push source
  (:class:`PushSink`) or straight through the feast_pinot backend's append
  path (:class:`DirectSink`). Both deduplicate by ``action_id``, so replays
  are harmless.
* Offline: actions are buffered per source partition and written as Parquet
  parts (:func:`feast_pinot.offline.parts.write_action_parts`) at each
  checkpoint. After the parts, each partition's mark (:mod:`stream_ingest.marks`)
  records the offset handled through; a replay after a crash skips what the
  parts already hold, so the offline log gets no duplicates from replays.
* Dead letters: JSON on a Kafka topic with the original bytes (base64; cut
  at MAX_COPY_BYTES and flagged ``payload_truncated``), the origin, the
  failing step and the reason, keyed by a deterministic id.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from feast import FeatureStore
from feast.data_source import PushMode
from feast.infra.online_stores.helpers import get_online_store_from_config

from feast_pinot import clock
from feast_pinot.actions import Action, actions_to_frame, actions_to_table
from feast_pinot.errors import ActionValidationError
from feast_pinot.kafka_produce import produce_one
from feast_pinot.offline.parts import write_action_parts
from feast_pinot.offline.storage import open_log
from feast_pinot.online.adapter import BackendOnlineStore, table_name
from feast_pinot.online.backend import OnlineBackend
from feast_pinot.push_checks import online_push_checked
from feast_pinot.specs import ActionLogSpec
from stream_ingest.errors import ConfigError
from stream_ingest.marks import Marks, Partition
from stream_ingest.records import DeadLetter, RawEvent
from stream_ingest.retry import Rejected

__all__ = [
    "MAX_COPY_BYTES",
    "ActionSink",
    "DeadLetterSink",
    "DirectSink",
    "KafkaDeadLetterSink",
    "MemoryActionSink",
    "MemoryDeadLetterSink",
    "OfflineSink",
    "PushSink",
    "decode_dead_letter",
    "encode_dead_letter",
    "make_online_sink",
]

log = logging.getLogger("stream_ingest")
# A dead letter copies at most this much of the event (base64: 4/3 of it), so that
# with its other fields it stays well below the producer's 1 MB message.max.bytes.
MAX_COPY_BYTES = 512 * 1024
MAX_KEY_COPY_BYTES = 16 * 1024
MAX_REASON_CHARS = 2000
# A temporary part file untouched this long is a crashed write's leftover.
STALE_TEMP_S = 60.0


# -- online ------------------------------------------------------------------------


class ActionSink(Protocol):
    def write(self, actions: Sequence[Action]) -> Rejected:
        """Write the actions; return those the store refused, with the reason."""


def _write_refusing_invalid(actions: Sequence[Action], write: Callable[[Sequence[Action]], object]) -> Rejected:
    """``write(actions)``; the actions a store refuses (:class:`ActionValidationError`) are rejected, the rest written.

    A store validates again with its own rules and clock: an action can cross the
    retention edge in between, and Pinot refuses values it would store truncated
    (a NUL in a string).
    """
    if not actions:
        return []
    try:
        write(actions)
        return []
    except ActionValidationError as exc:
        bad = dict(exc.problems)
        rest = [i for i in range(len(actions)) if i not in bad]
        later = _write_refusing_invalid([actions[i] for i in rest], write)
        return sorted([*bad.items(), *((rest[j], reason) for j, reason in later)])


class PushSink:
    """``store.push(push_source, frame, to=ONLINE)``: works with any Feast online store."""

    def __init__(self, store: FeatureStore, spec: ActionLogSpec) -> None:
        self._store = store
        self._spec = spec

    def write(self, actions: Sequence[Action]) -> Rejected:
        return _write_refusing_invalid(actions, self._push)

    def _push(self, batch: Sequence[Action]) -> None:
        with online_push_checked():  # online only on purpose: the OfflineSink writes the log
            self._store.push(self._spec.push_source, actions_to_frame(batch, self._spec), to=PushMode.ONLINE)


class DirectSink:
    """Appends validated actions through the feast_pinot backend (no proto round trip)."""

    def __init__(
        self, backend: OnlineBackend, table: str, spec: ActionLogSpec,
        now_ms: Callable[[], int] = clock.now_ms,
    ) -> None:
        self._backend = backend
        self._table = table
        self._spec = spec
        self._now_ms = now_ms

    def write(self, actions: Sequence[Action]) -> Rejected:
        keep = self._spec.window(self._now_ms())
        return _write_refusing_invalid(actions, lambda batch: self._backend.append_actions(self._table, batch, keep))


class MemoryActionSink:
    """Keeps written actions in a list (tests, dry runs)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []

    def write(self, actions: Sequence[Action]) -> Rejected:
        self.actions.extend(actions)
        return []


def make_online_sink(store: FeatureStore, spec: ActionLogSpec, mode: str) -> ActionSink:
    """The online sink ``online.write`` asks for (see :class:`OnlineConfig`)."""
    impl = get_online_store_from_config(store.config.online_store)
    direct_possible = isinstance(impl, BackendOnlineStore)
    if mode == "push" or (mode == "auto" and not direct_possible):
        return PushSink(store, spec)
    if not isinstance(impl, BackendOnlineStore):
        raise ConfigError(f"online.write: direct needs a feast_pinot online store, got {type(impl).__name__}")
    return DirectSink(impl.backend(store.config), table_name(store.project, spec.name), spec)


# -- offline -----------------------------------------------------------------------


class OfflineSink:
    """Buffers actions per partition and writes them as Parquet parts on :meth:`flush`.

    What a partition's mark (:mod:`stream_ingest.marks`) covers is skipped: a
    replay after a crash writes no duplicates. After the parts, each flush
    moves the marks past every event handled since the last one, actions,
    dead letters and skipped events alike. Which incarnation an event belongs
    to (its ``generation``) is decided by the runner, not here.
    """

    def __init__(self, root: str | Path, spec: ActionLogSpec, marks: Marks, max_rows: int) -> None:
        self._root = str(root)
        self._local = open_log(self._root).local
        self._spec = spec
        self._marks = marks
        self._max_rows = max_rows
        self._buffers: dict[Partition, list[Action]] = {}
        self._passed: dict[Partition, int] = {}  # offset after the last event handled, of the mark's generation
        self._ids: set[str] = set()  # action ids buffered (duplicates in one flush are dropped)
        self._last_sweep = 0.0
        self._sweep_temp_files()

    @property
    def buffered(self) -> int:
        return len(self._ids)

    def full(self) -> bool:
        return self.buffered >= self._max_rows

    def add(self, actions: Sequence[Action], sources: Sequence[RawEvent]) -> None:
        for action, source in zip(actions, sources):
            tp = (source.topic, source.partition)
            mark = self._marks.get(tp)
            if (source.generation, source.offset) < (mark.generation, mark.next_offset) \
                    or action.action_id in self._ids:
                continue  # a replay of what an earlier run already wrote
            self._buffers.setdefault(tp, []).append(action)
            self._ids.add(action.action_id)

    def passed(self, events: Sequence[RawEvent]) -> None:
        """The events are handled (stored, dead-lettered or skipped): the next flush moves the marks past them."""
        for event in events:
            tp = (event.topic, event.partition)
            if event.generation == self._marks.get(tp).generation:
                self._passed[tp] = max(self._passed.get(tp, 0), event.offset + 1)

    def flush(self) -> None:
        """Write the buffered actions, then record how far each partition is written."""
        actions = [a for buffer in self._buffers.values() for a in buffer]
        if actions:
            write_action_parts(self._root, actions_to_table(actions, self._spec), self._spec)
        for tp, offset in self._passed.items():
            if offset > self._marks.get(tp).next_offset:
                self._marks.advance(tp, offset)
        self._buffers.clear()
        self._passed.clear()
        self._ids.clear()
        if time.monotonic() - self._last_sweep > STALE_TEMP_S:
            self._sweep_temp_files()

    def drop(self, partitions: Iterable[Partition]) -> None:
        """Drop the unwritten rows of partitions this process no longer owns: their new owner
        replays them from the last commit."""
        for tp in partitions:
            self._passed.pop(tp, None)
            for action in self._buffers.pop(tp, []):
                self._ids.discard(action.action_id)

    def _sweep_temp_files(self) -> None:
        """Remove the temporary files of part writes that a crash cut short. One not
        touched for STALE_TEMP_S is no longer being written (by any process: several
        share the folder); writing a part takes seconds. Object stores have none: an
        upload cut short never becomes an object."""
        self._last_sweep = time.monotonic()
        if not self._local:
            return
        cutoff = time.time() - STALE_TEMP_S
        stale = [p for p in Path(self._root).glob("date=*/.part-*.parquet.tmp") if _mtime(p) < cutoff]
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            log.warning("removed %d stale temporary part file(s) under %s (part writes cut short by a crash)",
                        len(stale), self._root)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # renamed by its writer meanwhile
        return time.time()


# -- dead letters ----------------------------------------------------------------


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def encode_dead_letter(letter: DeadLetter) -> bytes:
    """The letter as JSON, at most ~750 KB whatever the event's size: the copy of the
    original bytes is cut at MAX_COPY_BYTES (``payload_truncated`` then gives the
    original sizes), so producing it cannot fail on the producer's 1 MB limit."""
    event = letter.event
    key = event.key[:MAX_KEY_COPY_BYTES] if event.key is not None else None
    value = event.value[:MAX_COPY_BYTES - len(key or b"")] if event.value is not None else None
    cut = key != event.key or value != event.value
    return json.dumps({
        "id": event.source_id,
        "step": letter.step,
        "reason": letter.reason if len(letter.reason) <= MAX_REASON_CHARS else letter.reason[:MAX_REASON_CHARS],
        "topic": event.topic,
        "partition": event.partition,
        "offset": event.offset,
        "generation": event.generation,
        "timestamp_ms": event.timestamp_ms,
        "key_b64": _b64(key),
        "value_b64": _b64(value),
        "payload_truncated": {"key_bytes": len(event.key or b""), "value_bytes": len(event.value or b"")}
        if cut else None,
    }).encode()


def decode_dead_letter(data: bytes) -> DeadLetter:
    """The dead letter a message of the dead-letter topic carries (the original bytes,
    or their first MAX_COPY_BYTES when the letter says ``payload_truncated``)."""
    body: dict[str, Any] = json.loads(data)
    event = RawEvent(
        body["topic"], body["partition"], body["offset"],
        _unb64(body["key_b64"]), _unb64(body["value_b64"]), body["timestamp_ms"], body.get("generation", 0),
    )
    return DeadLetter(event, body["step"], body["reason"])


class DeadLetterSink(Protocol):
    def send(self, letters: Sequence[DeadLetter]) -> None: ...

    def flush(self) -> None:
        """Return once every letter sent so far is durable; raise if that failed."""


class MemoryDeadLetterSink:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def send(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)

    def flush(self) -> None:
        return None


class KafkaDeadLetterSink:
    """Produces dead letters to a topic, keyed by their id (``topic/partition/offset``, the
    same on every replay: a reader, or a compacted topic, keeps one copy per id).

    The producer is made by ``connect`` on first use, so building the sink opens nothing.
    """

    def __init__(self, connect: Callable[[], Producer], topic: str, flush_timeout_s: float = 10.0) -> None:
        self._connect = connect
        self._producer: Producer | None = None
        self._topic = topic
        self._flush_timeout_s = flush_timeout_s
        self._failed: list[tuple[bytes | None, bytes | None, KafkaError]] = []

    def send(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        for letter in letters:
            self._produce(letter.event.source_id.encode(), encode_dead_letter(letter))
        self._open().poll(0)  # serve delivery callbacks

    def flush(self) -> None:
        if self._producer is None:  # nothing sent yet
            return
        remaining = self._producer.flush(self._flush_timeout_s)
        failed, self._failed = self._failed, []
        for key, value, _ in failed:  # queue them again for the next attempt
            self._produce(key, value)
        if failed:
            raise KafkaException(failed[-1][2])  # its retriable() flag decides whether to retry
        if remaining:
            raise TimeoutError(f"{remaining} dead letter(s) not yet delivered to {self._topic}")

    def _open(self) -> Producer:
        if self._producer is None:
            self._producer = self._connect()
        return self._producer

    def _produce(self, key: bytes | None, value: bytes | None) -> None:
        produce_one(self._open(), self._topic, key, value, self._delivered)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failed.append((msg.key(), msg.value(), err))
