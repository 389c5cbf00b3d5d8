"""Where the pipeline's output goes: the online store, the offline log, the dead-letter topic.

* Online: every micro-batch, through the action log's push source
  (:class:`PushSink`) or straight through the feast_pinot backend's append
  path (:class:`DirectSink`). Both deduplicate by ``action_id``, so replays
  are harmless.
* Offline: actions are buffered per source partition and written as Parquet
  parts (:func:`feast_pinot.offline_store.write_action_parts`) at each
  checkpoint. After the parts, a small mark file per partition records the
  offset written through; a replay after a crash skips what the parts already
  hold, so the offline log gets no duplicates from replays.
* Dead letters: JSON on a Kafka topic with the original bytes (base64), the
  origin, the failing step and the reason.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, Producer
from feast import FeatureStore
from feast.data_source import PushMode
from feast.infra.online_stores.helpers import get_online_store_from_config

from feast_pinot import clock
from feast_pinot.actions import Action, actions_to_frame, actions_to_table
from feast_pinot.errors import ActionValidationError
from feast_pinot.offline_store import write_action_parts
from feast_pinot.online.adapter import BackendOnlineStore, table_name
from feast_pinot.online.backend import HistoryWindow, OnlineBackend
from feast_pinot.specs import ActionLogSpec
from stream_ingest.errors import ConfigError, SinkError
from stream_ingest.records import DeadLetter, RawEvent

__all__ = [
    "ActionSink",
    "PushSink",
    "DirectSink",
    "MemoryActionSink",
    "make_online_sink",
    "OfflineSink",
    "DeadLetterSink",
    "KafkaDeadLetterSink",
    "MemoryDeadLetterSink",
    "encode_dead_letter",
    "decode_dead_letter",
]

Partition = tuple[str, int]
Rejected = list[tuple[int, str]]  # (index in the batch, reason)


# -- online ------------------------------------------------------------------------


class ActionSink(Protocol):
    def write(self, actions: Sequence[Action]) -> Rejected:
        """Write the actions; return those the store refused, with the reason."""


class PushSink:
    """``store.push(push_source, frame, to=ONLINE)``: works with any Feast online store."""

    def __init__(self, store: FeatureStore, spec: ActionLogSpec) -> None:
        self._store = store
        self._spec = spec

    def write(self, actions: Sequence[Action]) -> Rejected:
        if not actions:
            return []
        try:
            self._store.push(self._spec.push_source, actions_to_frame(actions, self._spec), to=PushMode.ONLINE)
            return []
        except ActionValidationError as exc:
            # The store re-validates with its own clock: an action can cross the
            # retention edge in between. Refuse those, write the rest.
            bad = dict(exc.problems)
            rest = [i for i in range(len(actions)) if i not in bad]
            later = self.write([actions[i] for i in rest])
            return sorted([*bad.items(), *((rest[j], reason) for j, reason in later)])


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
        if actions:
            now = self._now_ms()
            keep = HistoryWindow(now - self._spec.retention_ms, now, self._spec.max_actions)
            self._backend.append_actions(self._table, actions, keep)
        return []


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
    """Buffers actions per partition and writes them as Parquet parts on :meth:`flush`."""

    def __init__(self, root: Path, spec: ActionLogSpec, group_id: str, max_rows: int) -> None:
        self._root = root
        self._spec = spec
        self._max_rows = max_rows
        self._marks_dir = root / "_ingest_offsets" / group_id.replace(os.sep, "_")
        self._written: dict[Partition, int] = {}  # offsets below are in the log already
        self._buffers: dict[Partition, list[Action]] = {}
        self._next: dict[Partition, int] = {}  # offset after the last buffered action
        self._ids: set[str] = set()  # action ids buffered (duplicates in one flush are dropped)

    @property
    def buffered(self) -> int:
        return len(self._ids)

    def full(self) -> bool:
        return self.buffered >= self._max_rows

    def add(self, actions: Sequence[Action], sources: Sequence[RawEvent]) -> None:
        for action, source in zip(actions, sources):
            tp = (source.topic, source.partition)
            if source.offset < self._written_through(tp) or action.action_id in self._ids:
                continue  # a replay of what an earlier run already wrote
            self._buffers.setdefault(tp, []).append(action)
            self._next[tp] = source.offset + 1
            self._ids.add(action.action_id)

    def flush(self) -> None:
        """Write the buffered actions, then record how far each partition is written."""
        actions = [a for buffer in self._buffers.values() for a in buffer]
        if actions:
            write_action_parts(str(self._root), actions_to_table(actions, self._spec), self._spec)
        for tp, offset in self._next.items():
            self._write_mark(tp, offset)
            self._written[tp] = offset
        self._buffers.clear()
        self._next.clear()
        self._ids.clear()

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Drop the state of partitions this process no longer owns (unwritten rows too:
        the new owner replays them from the committed offset)."""
        for tp in partitions:
            self._written.pop(tp, None)
            self._next.pop(tp, None)
            for action in self._buffers.pop(tp, []):
                self._ids.discard(action.action_id)

    def _mark_path(self, tp: Partition) -> Path:
        return self._marks_dir / f"{tp[0]}-{tp[1]}.json"

    def _written_through(self, tp: Partition) -> int:
        if tp not in self._written:  # first sight since (re)assignment: read the mark
            path = self._mark_path(tp)
            self._written[tp] = json.loads(path.read_text())["next_offset"] if path.exists() else 0
        return self._written[tp]

    def _write_mark(self, tp: Partition, offset: int) -> None:
        path = self._mark_path(tp)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(json.dumps({"next_offset": offset}))
        os.replace(temp, path)  # atomic: a reader sees the old mark or the new one


# -- dead letters ----------------------------------------------------------------


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def encode_dead_letter(letter: DeadLetter) -> bytes:
    event = letter.event
    return json.dumps({
        "step": letter.step,
        "reason": letter.reason,
        "topic": event.topic,
        "partition": event.partition,
        "offset": event.offset,
        "timestamp_ms": event.timestamp_ms,
        "key_b64": _b64(event.key),
        "value_b64": _b64(event.value),
    }).encode()


def decode_dead_letter(data: bytes) -> DeadLetter:
    """The dead letter a message of the dead-letter topic carries (original bytes included)."""
    body: dict[str, Any] = json.loads(data)
    event = RawEvent(
        body["topic"], body["partition"], body["offset"],
        _unb64(body["key_b64"]), _unb64(body["value_b64"]), body["timestamp_ms"],
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
    """Produces dead letters to a topic, keyed like the original message."""

    def __init__(self, producer: Producer, topic: str, flush_timeout_s: float = 10.0) -> None:
        self._producer = producer
        self._topic = topic
        self._flush_timeout_s = flush_timeout_s
        self._failed: list[tuple[bytes | None, bytes | None]] = []

    def send(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self._produce(letter.event.key, encode_dead_letter(letter))
        self._producer.poll(0)  # serve delivery callbacks

    def flush(self) -> None:
        remaining = self._producer.flush(self._flush_timeout_s)
        failed, self._failed = self._failed, []
        for key, value in failed:  # queue them again for the next attempt
            self._produce(key, value)
        if remaining or failed:
            raise SinkError(f"{remaining + len(failed)} dead letter(s) not yet delivered to {self._topic}")

    def _produce(self, key: bytes | None, value: bytes | None) -> None:
        while True:
            try:
                self._producer.produce(self._topic, value=value, key=key, on_delivery=self._delivered)
                return
            except BufferError:  # local queue full: let deliveries drain it
                self._producer.poll(0.1)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failed.append((msg.key(), msg.value()))
