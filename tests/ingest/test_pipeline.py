"""The whole chain in-process (no Kafka): pipeline, sinks, counters, replays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from demo.synthetic import Scenario, actions, job_embeddings
from feast_pinot.actions import Action
from feast_pinot.errors import ActionValidationError
from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.errors import SinkError
from stream_ingest.lookups import CachedLookup, MemoryLookup
from stream_ingest.pipeline import Ingester, Pipeline, run_events
from stream_ingest.records import DeadLetter, RawEvent
from stream_ingest.retry import RetryPolicy
from stream_ingest.sinks import (
    MemoryActionSink,
    MemoryDeadLetterSink,
    PushSink,
    decode_dead_letter,
    encode_dead_letter,
)
from stream_ingest.stats import Stats
from tests.ingest.support import (
    application,
    example_config_dict,
    interaction,
    offline_sink,
    raw_of,
    read_offline_log,
)
from tests.ingest.test_config import LOG

NOW = 1_800_000_000_000
HOUR = 3_600_000
FAST = RetryPolicy(attempts=3, initial_backoff_s=0.001, max_backoff_s=0.002)
SCENARIO = Scenario(start_ms=NOW - 3 * HOUR, hours=2.9, members=12, jobs=60, actions_per_member_hour=4)


@pytest.fixture(scope="module")
def config() -> IngestConfig:
    return parse_config(example_config_dict())


def lookups() -> dict[str, MemoryLookup]:
    _, emb = job_embeddings(SCENARIO)
    return {
        "job_embedding": MemoryLookup("job_attributes:embedding", {j: emb[j].tolist() for j in range(SCENARIO.jobs)}),
        "job_geo": MemoryLookup("job_attributes:geo", {j: "eu" for j in range(0, SCENARIO.jobs, 2)}),
    }


def raw_events(items: list[tuple[str, bytes, bytes]]) -> list[RawEvent]:
    topics = {"applications": "job-applications", "interactions": "job-interactions"}
    return [RawEvent(topics[kind], 0, i, key, value, NOW - 50) for i, (kind, key, value) in enumerate(items)]


class Harness:
    """An Ingester with in-memory online and dead-letter sinks and a real offline sink."""

    def __init__(self, config: IngestConfig, root: str | Path, online: Any = None) -> None:
        self.online: Any = online or MemoryActionSink()
        self.dead = MemoryDeadLetterSink()
        self.lookups = lookups()
        self.offline = offline_sink(root, LOG, "group-1")
        pipeline = Pipeline(config, LOG, self.lookups, now_ms=lambda: NOW)
        self.ingester = Ingester(pipeline, self.online, self.offline, self.dead, FAST, Stats())


def test_good_and_bad_events_are_all_accounted_for(config: IngestConfig, tmp_path: Path) -> None:
    expected = actions(SCENARIO)
    good = [raw_of(a) for a in expected]
    bad = [
        ("applications", b"1", b"{not json"),
        ("interactions", b"2", interaction(2, 5, "share", NOW - 10)),          # unknown verb
        ("applications", b"3", application("x-3", 3, 5, NOW - 97 * HOUR)),    # stale
        ("applications", b"4", application("x-4", 4, 10_000, NOW - 10)),      # no embedding for the job
    ]
    skipped = [("interactions", b"5", interaction(5, 5, "impression", NOW - 10))]
    h = Harness(config, tmp_path / "log")
    run_events(h.ingester, raw_events(good + bad + skipped), batch_size=50)

    snap = h.ingester.stats.snapshot()
    assert (snap.events_in, snap.stored, snap.dead_lettered, snap.skipped) == (len(expected) + 5, len(expected), 4, 1)
    assert snap.events_in == snap.stored + snap.dead_lettered + snap.skipped
    assert [(d.step, d.event.value) for d in h.dead.letters] == [
        ("parse", b"{not json"), ("keep", bad[1][2]), ("standardize", bad[2][2]), ("enrich", bad[3][2]),
    ]
    _, emb = job_embeddings(SCENARIO)
    stored = {(a.actor, a.verb, a.object, a.ts_ms) for a in h.online.actions}
    assert stored == {(a["actor"], a["verb"], a["object"], a["timestamp"]) for a in expected}
    for action in h.online.actions:
        job = int(action.object.removeprefix("job:"))
        assert np.array_equal(np.asarray(action.embedding, dtype=np.float32), emb[job])
    offline = read_offline_log(tmp_path / "log")
    assert sorted(offline.column("action_id").to_pylist()) == sorted(a.action_id for a in h.online.actions)


def test_lookups_are_batched_one_read_per_batch(config: IngestConfig, tmp_path: Path) -> None:
    events = raw_events([("applications", b"1", application(f"a{i}", 1, i % 3, NOW - 10)) for i in range(10)])
    h = Harness(config, tmp_path / "log")
    h.ingester.handle(events)
    assert sorted(h.lookups["job_embedding"].requested) == [0, 1, 2]  # each key once for ten events


def test_cached_lookup_reads_a_key_once_across_batches(config: IngestConfig, tmp_path: Path) -> None:
    events = raw_events([("applications", b"1", application(f"a{i}", 1, 7, NOW - 10)) for i in range(6)])
    inner = lookups()
    cached = {name: CachedLookup(lk, ttl_s=60, max_entries=10) for name, lk in inner.items()}
    ingester = Ingester(Pipeline(config, LOG, cached, now_ms=lambda: NOW), MemoryActionSink(),
                        offline_sink(tmp_path, LOG), MemoryDeadLetterSink(), FAST)
    run_events(ingester, events, batch_size=2)
    assert inner["job_embedding"].requested == [7]
    assert ingester.stats.snapshot().stored == 6


def test_a_replay_after_a_checkpoint_writes_no_offline_duplicates(config: IngestConfig, tmp_path: Path) -> None:
    events = raw_events([raw_of(a) for a in actions(SCENARIO)])
    first = Harness(config, tmp_path / "log")
    run_events(first.ingester, events[:40], batch_size=10)
    # "crash" after the offline write but before the commit: a new process replays from offset 0
    again = Harness(config, tmp_path / "log")
    run_events(again.ingester, events, batch_size=10)
    assert len(again.online.actions) == len(events)  # online writes are idempotent: replayed in full
    offline_ids = read_offline_log(tmp_path / "log").column("action_id").to_pylist()
    assert len(offline_ids) == len(events) == len(set(offline_ids))


def test_dropped_partitions_lose_their_unwritten_rows(config: IngestConfig, tmp_path: Path) -> None:
    h = Harness(config, tmp_path / "log")
    h.ingester.handle(raw_events([raw_of(a) for a in actions(SCENARIO)[:5]]))
    assert h.offline.buffered == 5
    h.offline.drop([("job-applications", 0), ("job-interactions", 0)])
    h.ingester.checkpoint()
    assert read_offline_log(tmp_path / "log").num_rows == 0


def test_duplicate_producer_ids_in_one_checkpoint_are_written_offline_once(
    config: IngestConfig, tmp_path: Path
) -> None:
    twice = [("applications", b"1", application("same-id", 1, 3, NOW - 10))] * 2
    h = Harness(config, tmp_path / "log")
    run_events(h.ingester, raw_events(twice), batch_size=1)
    assert read_offline_log(tmp_path / "log").column("action_id").to_pylist() == ["same-id"]


class FlakySink:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.written: list[Action] = []

    def write(self, actions: Any) -> list[tuple[int, str]]:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        self.written.extend(actions)
        return []


def test_online_write_is_retried_then_gives_up(config: IngestConfig, tmp_path: Path) -> None:
    events = raw_events([raw_of(a) for a in actions(SCENARIO)[:3]])
    recovers = Harness(config, tmp_path / "a", online=FlakySink(failures=2))
    recovers.ingester.handle(events)
    assert len(recovers.online.written) == 3
    broken = Harness(config, tmp_path / "b", online=FlakySink(failures=3))
    with pytest.raises(SinkError, match="online write failed 3 time"):
        broken.ingester.handle(events)


class RejectingStore:
    """A FeatureStore stand-in whose push refuses some action ids, as the adapter would."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.pushed: list[str] = []

    def push(self, source: str, frame: Any, to: Any) -> None:
        ids = frame["action_id"].tolist()
        problems = [(i, "timestamp is outside the retention") for i, a in enumerate(ids) if a in self.refuse]
        if problems:
            raise ActionValidationError(problems)
        self.pushed.extend(ids)


def test_actions_the_store_refuses_are_dead_lettered_and_the_rest_written(
    config: IngestConfig, tmp_path: Path
) -> None:
    events = raw_events([("applications", b"1", application(f"a{i}", 1, 3, NOW - 10)) for i in range(5)])
    store = RejectingStore({"a1", "a3"})
    h = Harness(config, tmp_path / "log", online=PushSink(store, LOG))  # type: ignore[arg-type]
    run_events(h.ingester, events, batch_size=5)
    assert store.pushed == ["a0", "a2", "a4"]
    assert [(d.step, d.event.offset) for d in h.dead.letters] == [("online_sink", 1), ("online_sink", 3)]
    assert sorted(read_offline_log(tmp_path / "log").column("action_id").to_pylist()) == ["a0", "a2", "a4"]
    snap = h.ingester.stats.snapshot()
    assert (snap.stored, snap.dead_lettered) == (3, 2)


def test_dead_letters_round_trip_with_the_original_bytes() -> None:
    letter = DeadLetter(RawEvent("raw", 2, 99, None, b"\x00\xffbinary", NOW), "parse", "not valid JSON")
    assert decode_dead_letter(encode_dead_letter(letter)) == letter


def test_stats_rates_and_freshness_over_an_interval() -> None:
    clock = [100.0]
    stats = Stats(clock=lambda: clock[0])
    stats.record(10, 8, 1, 1, produced_ms=[1000 - d for d in range(1, 101)], stored_at_ms=1000)
    clock[0] += 2
    snap = stats.snapshot(lag=7)
    assert (snap.in_per_s, snap.out_per_s, snap.lag) == (5.0, 4.0, 7)
    assert (snap.freshness_p50_ms, snap.freshness_p99_ms) == (51.0, 100.0)
    assert "in 5/s out 4/s | dead-lettered 1 skipped 1 | lag 7 | freshness p50 51 ms p99 100 ms" in snap.line()
    stats.new_interval()
    after = stats.snapshot()
    assert (after.events_in, after.in_per_s, after.freshness_p50_ms) == (10, 0.0, None)
