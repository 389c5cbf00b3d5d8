"""A partition's incarnation, on real mark files: when the next generation starts, where a
partition starts reading, and what the offline sink then skips. (Through a real broker:
tests/ingest/test_kafka_hardening.py.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from feast_pinot.actions import Action
from stream_ingest.marks import FileMarkStore, Mark, Marks, Partition
from stream_ingest.records import RawEvent
from stream_ingest.runner.incarnations import BEGINNING, Incarnations, commit_metadata, generation_of
from stream_ingest.stats import Stats
from tests.ingest.support import offline_sink, read_offline_log
from tests.ingest.test_config import LOG
from tests.ingest.test_pipeline import NOW

APPS, INTS = ("apps", 0), ("ints", 1)


class Broker:
    """What the broker says about topic ids (a topic it does not know: None)."""

    def __init__(self, **ids: str | None) -> None:
        self.ids = ids
        self.asked = 0

    def __call__(self, topics: object) -> dict[str, str | None]:
        self.asked += 1
        return {t: self.ids.get(t) for t in topics}  # type: ignore[attr-defined]


def mark_file(root: Path, tp: Partition) -> Path:
    return root / "_ingest_offsets" / "g" / f"{tp[0]}-{tp[1]}.json"


def on_disk(root: Path, tp: Partition) -> dict[str, object]:
    return json.loads(mark_file(root, tp).read_text())


def setup(root: Path, broker: Broker, **marks: Mark) -> tuple[Incarnations, Stats]:
    store = FileMarkStore.beside(root, "g")
    for name, mark in marks.items():
        store.save((name, 0 if name == "apps" else 1), mark)
    stats = Stats()
    return Incarnations(Marks(store), broker, stats), stats


def no_commits(partitions: list[Partition]) -> Mapping[Partition, int]:
    raise AssertionError(f"committed offsets asked for {partitions}: no mark of a later generation")


def test_a_topic_id_other_than_the_marks_starts_the_next_generation_at_the_beginning(tmp_path: Path) -> None:
    incarnations, stats = setup(tmp_path, Broker(apps="T2", ints="I1"),
                                apps=Mark(40, 0, "T1"), ints=Mark(12, 0, "I1"))
    assert incarnations.assign([APPS, INTS], no_commits) == {APPS: BEGINNING}
    assert on_disk(tmp_path, APPS) == {"next_offset": 0, "generation": 1, "topic_id": "T2"}
    assert on_disk(tmp_path, INTS) == {"next_offset": 12, "generation": 0, "topic_id": "I1"}
    assert (incarnations.generation(APPS), incarnations.generation(INTS)) == (1, 0)
    assert stats.snapshot().offsets_went_back == 1


def test_a_mark_without_a_topic_id_adopts_the_current_one(tmp_path: Path) -> None:
    mark_file(tmp_path, APPS).parent.mkdir(parents=True)
    mark_file(tmp_path, APPS).write_text('{"next_offset": 4}')  # written before generations and ids were kept
    incarnations, stats = setup(tmp_path, Broker(apps="T1"))
    assert incarnations.assign([APPS], no_commits) == {}
    assert on_disk(tmp_path, APPS) == {"next_offset": 4, "generation": 0, "topic_id": "T1"}
    assert stats.snapshot().offsets_went_back == 0


def test_a_topic_id_the_broker_does_not_tell_is_checked_again_at_the_next_checkpoint(tmp_path: Path) -> None:
    broker = Broker(apps=None)  # e.g. the topic's metadata not yet everywhere right after its creation
    incarnations, _ = setup(tmp_path, broker, apps=Mark(40, 0, "T1"))
    assert incarnations.assign([APPS], no_commits) == {}
    assert incarnations.recreated([APPS]) == []
    broker.ids["apps"] = "T2"
    assert incarnations.recreated([APPS]) == [APPS]
    assert on_disk(tmp_path, APPS) == {"next_offset": 0, "generation": 1, "topic_id": "T2"}
    assert incarnations.recreated([APPS]) == []  # once


@pytest.mark.parametrize(("committed", "start"), [(0, 7), (1, None), (2, None)])
def test_a_commit_of_an_older_generation_than_the_mark_resumes_at_the_mark(
    tmp_path: Path, committed: int, start: int | None
) -> None:
    # a process started generation 1 (its mark at 0), wrote through offset 6, and died before committing
    incarnations, _ = setup(tmp_path, Broker(apps="T2", ints="I1"), apps=Mark(7, 1, "T2"), ints=Mark(3, 0, "I1"))
    asked: list[list[Partition]] = []

    def commits(partitions: list[Partition]) -> Mapping[Partition, int]:
        asked.append(partitions)
        return {APPS: committed}

    starts = incarnations.assign([APPS, INTS], commits)
    assert starts == ({APPS: start} if start is not None else {})
    assert asked == [[APPS]]  # only partitions past their first generation need their commit read


def test_offsets_going_back_start_the_next_generation_at_that_event(tmp_path: Path) -> None:
    incarnations, stats = setup(tmp_path, Broker(ints="I2"), ints=Mark(7, 0, "I1"))
    assert [incarnations.went_back(INTS, o) for o in (5, 6, 6)] == [False, False, True]
    assert incarnations.restart(INTS, 6) == 1
    assert [incarnations.went_back(INTS, o) for o in (7, 0)] == [False, True]
    assert incarnations.restart(INTS, 0) == 2
    assert on_disk(tmp_path, INTS) == {"next_offset": 0, "generation": 2, "topic_id": "I2"}
    assert stats.snapshot().offsets_went_back == 2


def test_every_partition_of_a_recreated_topic_is_renewed_not_only_the_one_that_went_back(tmp_path: Path) -> None:
    other = ("ints", 0)
    store = FileMarkStore.beside(tmp_path, "g")
    store.save(INTS, Mark(9, 0, "I1"))
    store.save(other, Mark(30, 0, "I1"))
    incarnations = Incarnations(Marks(store), Broker(ints="I2"), Stats())
    assert incarnations.went_back(INTS, 9) is False
    assert incarnations.went_back(INTS, 0) is True
    incarnations.restart(INTS, 0)  # its new mark has the new topic's id
    # the other partition's consumer went on from offset 30 in the new topic: read from its start again
    assert incarnations.recreated([INTS, other]) == [other]
    assert store.load(other) == Mark(0, 1, "I2")
    assert store.load(INTS) == Mark(0, 1, "I2")


def test_a_released_partition_is_read_from_its_mark_file_by_its_next_owner(tmp_path: Path) -> None:
    incarnations, _ = setup(tmp_path, Broker(apps="T1"), apps=Mark(3, 0, "T1"))
    assert incarnations.generation(APPS) == 0
    FileMarkStore.beside(tmp_path, "g").save(APPS, Mark(0, 4, "T1"))  # another process moved it meanwhile
    assert incarnations.generation(APPS) == 0  # as this process knows it while it owns the partition
    incarnations.release([APPS])
    assert incarnations.generation(APPS) == 4


def test_commit_metadata_names_the_generation() -> None:
    assert generation_of(commit_metadata(3)) == 3
    for legacy in (None, "", "not json", "[1]", '{"generation": "2"}'):
        assert generation_of(legacy) == 0


def action(action_id: str) -> Action:
    return Action(action_id, 1, "job-apply", "job:3", NOW - 10, (0.5,) * 64, "{}")


def events(offsets: range, generation: int = 0) -> list[RawEvent]:
    return [RawEvent("apps", 0, o, None, b"", NOW, generation) for o in offsets]


def test_the_offline_sink_skips_what_the_mark_of_the_events_incarnation_covers(tmp_path: Path) -> None:
    first = offline_sink(tmp_path, LOG)
    first.add([action(f"old-{i}") for i in range(10)], events(range(10)))
    first.passed(events(range(12)))  # the last two were dead-lettered: the mark moves past them too
    first.flush()
    assert on_disk(tmp_path, APPS) == {"next_offset": 12, "generation": 0, "topic_id": None}
    # the topic recreated: generation 1 starts at offset 0 with a mark of its own
    incarnations, _ = setup(tmp_path, Broker(apps="T2"))
    incarnations.restart(APPS, 0)
    again = offline_sink(tmp_path, LOG)
    again.add([action(f"new-{i}") for i in range(5)], events(range(5), generation=1))
    again.add([action("stale")], events(range(11, 12)))  # read under generation 0 after the change: below its mark
    again.passed(events(range(5), generation=1) + events(range(11, 13)))
    again.flush()
    assert on_disk(tmp_path, APPS) == {"next_offset": 5, "generation": 1, "topic_id": "T2"}
    replay = offline_sink(tmp_path, LOG)  # a crash replay of generation 1 writes nothing again
    replay.add([action("new-0")], events(range(1), generation=1))
    assert replay.buffered == 0
    ids = sorted(read_offline_log(tmp_path).column("action_id").to_pylist())
    assert ids == sorted([f"old-{i}" for i in range(10)] + [f"new-{i}" for i in range(5)])
