"""The ingester's marks: per source partition, how far the offline log holds its events, in which incarnation.

A mark ``{"next_offset": n, "generation": g, "topic_id": id}`` says: every
event of incarnation ``g`` of the partition below offset ``n`` was handled
and, if it became an action, is in the offline log's Parquet parts; ``id`` is
the Kafka id (KIP-516) of the topic that incarnation reads, when the broker
told it. The offline sink skips what a mark covers (a replay writes no
duplicates) and moves marks on after each flush; the runner's
:class:`~stream_ingest.runner.incarnations.Incarnations` alone starts new
generations.

Where marks persist is a :class:`MarkStore`: one JSON file per partition under
``<offline log>/_ingest_offsets/<group>/`` (:class:`FileMarkStore`). Another
store (object storage next to the log) only has to load and save one mark
atomically. :class:`Marks` is the view one process shares between its parts:
each partition's mark read once per assignment and written through.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

__all__ = ["NO_MARK", "FileMarkStore", "Mark", "MarkStore", "Marks", "Partition"]

Partition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Mark:
    """Offsets below ``next_offset`` of incarnation ``generation`` are handled and durable offline."""

    next_offset: int
    generation: int
    topic_id: str | None


NO_MARK = Mark(0, 0, None)  # a partition never written: its first incarnation, from its start


class MarkStore(Protocol):
    """Where marks persist."""

    def load(self, tp: Partition) -> Mark | None:
        """The partition's stored mark, or None when it has none."""

    def save(self, tp: Partition, mark: Mark) -> None:
        """Store the partition's mark atomically: a reader sees the old one or the new one."""


class FileMarkStore:
    """One small JSON file per partition, replaced atomically (write a temporary file, rename)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    @classmethod
    def beside(cls, log_root: Path, group_id: str) -> FileMarkStore:
        """The marks of consumer group ``group_id`` in the offline log's folder."""
        return cls(log_root / "_ingest_offsets" / group_id.replace(os.sep, "_"))

    def _path(self, tp: Partition) -> Path:
        return self._folder / f"{tp[0]}-{tp[1]}.json"

    def load(self, tp: Partition) -> Mark | None:
        path = self._path(tp)
        if not path.exists():
            return None
        body = json.loads(path.read_text())
        # marks written before generations and topic ids were kept have only next_offset
        return Mark(body["next_offset"], body.get("generation", 0), body.get("topic_id"))

    def save(self, tp: Partition, mark: Mark) -> None:
        path = self._path(tp)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(json.dumps({"next_offset": mark.next_offset, "generation": mark.generation,
                                    "topic_id": mark.topic_id}))
        os.replace(temp, path)


class Marks:
    """The marks of the partitions this process owns: loaded on first use, saved on every change."""

    def __init__(self, store: MarkStore) -> None:
        self._store = store
        self._known: dict[Partition, Mark] = {}

    def get(self, tp: Partition) -> Mark:
        if tp not in self._known:  # first use since (re)assignment: another process may have moved it
            self._known[tp] = self._store.load(tp) or NO_MARK
        return self._known[tp]

    def put(self, tp: Partition, mark: Mark) -> None:
        self._store.save(tp, mark)
        self._known[tp] = mark

    def advance(self, tp: Partition, next_offset: int) -> None:
        """Everything of the current incarnation below ``next_offset`` is now durable."""
        self.put(tp, replace(self.get(tp), next_offset=next_offset))

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Partitions this process no longer owns: their next owner moves their marks."""
        for tp in partitions:
            self._known.pop(tp, None)
