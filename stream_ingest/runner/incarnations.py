"""A partition's incarnation: which generation its events belong to, and when the next one starts.

A topic deleted and recreated (or a new cluster) starts its offsets at 0
again; under the old generation the new events' ids (``topic/partition/offset``)
and the offline marks would swallow them. :class:`Incarnations` is the one
owner of this: it keeps each partition's generation and topic id in its mark
(:mod:`stream_ingest.marks`) and starts the next generation, with a mark of
its own at offset 0, when it sees one of three signs:

* **at assignment**, the topic's Kafka id differs from the mark's (the process
  starts after a recreation): the partition is read from its beginning;
* **while reading**, an offset at or below the last one read (the consumer
  was reset to the new topic's start): the next generation starts at that event;
* **at a checkpoint**, after the flush, the topic's id differs from the mark's
  (the consumer went on from its old position in the longer new topic): the
  partition is read again from its beginning. What was read before the check
  is durable under the old generation: whether an event came from the old
  topic or the new one cannot be told, and the old topic's cannot be read again.

Every offset commit carries its partition's generation (:func:`commit_metadata`).
A commit of an older generation than the mark's, left by a process that stopped
right after starting a new incarnation, does not count: the partition resumes
at the mark's offset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace

from confluent_kafka import OFFSET_BEGINNING

from stream_ingest.marks import Mark, Marks, Partition
from stream_ingest.stats import Stats

__all__ = ["BEGINNING", "Incarnations", "commit_metadata", "generation_of"]

log = logging.getLogger("stream_ingest")
BEGINNING = OFFSET_BEGINNING  # a start offset: the partition's first message
TopicIdsOf = Callable[[Collection[str]], Mapping[str, str | None]]
CommittedGenerations = Callable[[list[Partition]], Mapping[Partition, int]]


def commit_metadata(generation: int) -> str:
    """What an offset commit of this generation carries (Kafka keeps it with the offset)."""
    return json.dumps({"generation": generation})


def generation_of(metadata: str | None) -> int:
    """The generation a commit's metadata names; 0 for a commit without one (made before they were kept)."""
    try:
        body = json.loads(metadata or "{}")
    except ValueError:
        return 0
    value = body.get("generation", 0) if isinstance(body, dict) else 0
    return value if isinstance(value, int) else 0


class Incarnations:
    """The generation of each partition this process owns, and the start of new ones."""

    def __init__(self, marks: Marks, topic_ids: TopicIdsOf, stats: Stats) -> None:
        self._marks = marks
        self._topic_ids = topic_ids
        self._stats = stats
        self._last: dict[Partition, int] = {}  # last offset read, since assignment or the incarnation's start

    def generation(self, tp: Partition) -> int:
        return self._marks.get(tp).generation

    def assign(self, partitions: list[Partition], committed: CommittedGenerations) -> dict[Partition, int]:
        """Where newly assigned partitions start when not at their committed offset: at their
        beginning when their topic was recreated, at their mark when their commit is of an
        older generation. ``committed`` gives the generation of the partitions' commits."""
        ids = self._topic_ids({topic for topic, _ in partitions})
        starts: dict[Partition, int] = {}
        for tp in partitions:
            mark = self._adopted(tp, ids.get(tp[0]))
            if mark.topic_id is not None and ids.get(tp[0]) not in (None, mark.topic_id):
                log.warning("%s[%d] was recreated (topic id %s, the offline mark has %s): read from its start",
                            tp[0], tp[1], ids[tp[0]], mark.topic_id)
                self._start_next(tp, ids[tp[0]])
                starts[tp] = BEGINNING
        later = [tp for tp in partitions if tp not in starts and self.generation(tp) > 0]
        older = committed(later) if later else {}
        for tp in later:
            if older.get(tp, 0) < self.generation(tp):
                log.warning("%s[%d]: the committed offset is of generation %d, the mark of %d: resuming at "
                            "the mark's offset %d", tp[0], tp[1], older.get(tp, 0), self.generation(tp),
                            self._marks.get(tp).next_offset)
                starts[tp] = self._marks.get(tp).next_offset
        return starts

    def went_back(self, tp: Partition, offset: int) -> bool:
        """Whether ``offset`` is at or below the last one read of the partition (it is then the last one)."""
        last = self._last.get(tp)
        self._last[tp] = offset
        return last is not None and offset <= last

    def restart(self, tp: Partition, offset: int) -> int:
        """The partition's offsets went back to ``offset``: its next generation starts there. Call
        it once what was read before is durable; returns the new generation."""
        log.warning("offsets of %s[%d] went back (offset %d after a later one): the topic was recreated or "
                    "the cluster replaced", tp[0], tp[1], offset)
        self._start_next(tp, self._topic_ids([tp[0]]).get(tp[0]))
        self._last[tp] = offset
        return self.generation(tp)

    def recreated(self, partitions: Collection[Partition]) -> list[Partition]:
        """The partitions whose topic has another id than their mark: each starts its next
        generation, to be read from its beginning. Call it once what was read is durable."""
        ids = self._topic_ids({topic for topic, _ in partitions})
        renewed = []
        for tp in sorted(partitions):
            mark = self._adopted(tp, ids.get(tp[0]))
            if mark.topic_id is not None and ids.get(tp[0]) not in (None, mark.topic_id):
                log.warning("topic %s was recreated while being read (topic id %s, was %s): partition %d "
                            "is read again from its start", tp[0], ids[tp[0]], mark.topic_id, tp[1])
                self._start_next(tp, ids[tp[0]])
                renewed.append(tp)
        return renewed

    def release(self, partitions: Iterable[Partition]) -> None:
        """Partitions this process no longer owns."""
        gone = set(partitions)
        for tp in gone:
            self._last.pop(tp, None)
        self._marks.forget(gone)

    def _adopted(self, tp: Partition, topic_id: str | None) -> Mark:
        """The partition's mark; one without a topic id (written before ids were kept, or when the
        broker did not say) takes the current one."""
        mark = self._marks.get(tp)
        if mark.topic_id is None and topic_id is not None:
            mark = replace(mark, topic_id=topic_id)
            self._marks.put(tp, mark)
        return mark

    def _start_next(self, tp: Partition, topic_id: str | None) -> None:
        mark = Mark(0, self.generation(tp) + 1, topic_id)
        self._marks.put(tp, mark)  # now: every process agrees on the generation of the events that follow
        self._last.pop(tp, None)
        self._stats.record_offsets_back()
        log.warning("%s[%d]: offsets start again at 0 as generation %d (ids end in @g%d)",
                    tp[0], tp[1], mark.generation, mark.generation)
