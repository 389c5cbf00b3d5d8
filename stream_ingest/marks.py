"""The ingester's marks: per source partition, how far the offline log holds its events, in which incarnation.

A mark ``{"next_offset": n, "generation": g, "topic_id": id}`` says: every
event of incarnation ``g`` of the partition below offset ``n`` was handled
and, if it became an action, is in the offline log's Parquet parts; ``id`` is
the Kafka id (KIP-516) of the topic that incarnation reads, when the broker
told it. The offline sink skips what a mark covers (a replay writes no
duplicates) and moves marks on after each flush; the runner's
:class:`~stream_ingest.runner.incarnations.Incarnations` alone starts new
generations.

Where marks persist is a :class:`MarkStore` next to the log, chosen by
:func:`mark_store_beside`: on a local disk one JSON file per partition under
``<offline log>/_ingest_offsets/<group>/``, replaced by rename
(:class:`FileMarkStore`); on object storage, which has no rename, write-once
objects whose names sort as the marks do (:class:`ObjectMarkStore`).
:class:`Marks` is the view one process shares between its parts: each
partition's mark read once per assignment and written through.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from feast_pinot.offline.storage import LogStore, open_log

__all__ = ["NO_MARK", "FileMarkStore", "Mark", "MarkStore", "Marks", "ObjectMarkStore", "Partition",
           "mark_store_beside"]

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


class ObjectMarkStore:
    """Marks as write-once objects, one folder per partition: ``mark-<generation>-<next offset>.json``.

    A partition's marks only move forward in (generation, next offset), so the
    greatest name is the current mark: saving uploads a new object whole (no
    rename needed), then deletes the older ones. A reader that listed an object
    deleted meanwhile lists again.
    """

    _ATTEMPTS = 5

    def __init__(self, store: LogStore, group_id: str) -> None:
        self._store, self._group = store, group_id.replace("/", "_")

    def _folder(self, tp: Partition) -> str:
        return self._store.path("_ingest_offsets", self._group, f"{tp[0]}-{tp[1]}")

    def _names(self, tp: Partition) -> list[str]:
        return [info.path for info in self._store.files(self._folder(tp), ".json")
                if info.path.rsplit("/", 1)[-1].startswith("mark-")]

    def load(self, tp: Partition) -> Mark | None:
        for _ in range(self._ATTEMPTS):
            names = self._names(tp)
            if not names:
                return None
            data = self._store.read(names[-1])
            if data is not None:
                body = json.loads(data)
                return Mark(body["next_offset"], body["generation"], body.get("topic_id"))
        raise OSError(f"the marks of {tp[0]}[{tp[1]}] under {self._store.shown} kept changing while read")

    def save(self, tp: Partition, mark: Mark) -> None:
        name = f"{self._folder(tp)}/mark-{mark.generation:010d}-{mark.next_offset:020d}.json"
        self._store.write_whole(name, json.dumps({"next_offset": mark.next_offset, "generation": mark.generation,
                                                  "topic_id": mark.topic_id}).encode())
        self._store.delete([older for older in self._names(tp) if older < name])


def mark_store_beside(log_root: str, group_id: str) -> MarkStore:
    """The marks of consumer group ``group_id`` next to the offline log at ``log_root``."""
    store = open_log(log_root)
    if store.local:
        return FileMarkStore.beside(Path(store.root), group_id)
    return ObjectMarkStore(store, group_id)


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
