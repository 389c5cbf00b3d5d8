"""No event can stop the pipeline (in-process, real SQLite store and offline log): what a
step raises dead-letters that event, a failing write is narrowed down to the events that
cause it, and only transient I/O errors are retried."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from demo.synthetic import actions
from feast_pinot.actions import Action
from feast_pinot.errors import OnlineStoreError, OnlineStoreUnavailableError, OnlineStoreValueError
from feast_pinot.online.backend import TableSpec
from feast_pinot.online.pinot.errors import PinotConnectionError, PinotValueError
from feast_pinot.online.sqlite_backend import SqliteBackend
from stream_ingest import pipeline as pipeline_module
from stream_ingest import sinks as sinks_module
from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.errors import SinkError
from stream_ingest.lookups import Key, MemoryLookup
from stream_ingest.pipeline import Ingester, Pipeline, run_events
from stream_ingest.records import DeadLetter, RawEvent
from stream_ingest.retry import Failure, classify
from stream_ingest.sinks import (
    MAX_COPY_BYTES,
    DirectSink,
    decode_dead_letter,
    encode_dead_letter,
)
from tests.ingest.poison import poison_events
from tests.ingest.support import application, example_config_dict, offline_sink, raw_of, read_offline_log
from tests.ingest.test_config import LOG
from tests.ingest.test_pipeline import FAST, NOW, SCENARIO, Harness, lookups, raw_events
from tests.unit.test_import_graph import _graph, _third_party

TABLE = "jobs_member_actions"


@pytest.fixture(scope="module")
def config() -> IngestConfig:
    return parse_config(example_config_dict())


def sqlite_sink(path: Path) -> DirectSink:
    backend = SqliteBackend(path)
    backend.create_tables([TableSpec(TABLE, "actions", actor_is_int=True, embedding_dim=LOG.embedding_dim,
                                     retention_ms=LOG.retention_ms)])
    return DirectSink(backend, TABLE, LOG, now_ms=lambda: NOW)


def stored_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(row[0] for row in db.execute(f"SELECT action_id FROM {TABLE}"))


def interleave(good: list[tuple[str, bytes, bytes]], bad: list[bytes | None]) -> list[tuple[str, bytes, Any]]:
    """Each bad event between two good ones."""
    out: list[tuple[str, bytes, Any]] = []
    for i, value in enumerate(bad):
        out += [good[2 * i], ("applications", b"bad", value), good[2 * i + 1]]
    return out + good[2 * len(bad):]


def test_every_kind_of_poison_is_dead_lettered_between_good_events_of_one_batch(
    config: IngestConfig, tmp_path: Path
) -> None:
    poison = poison_events(NOW)
    good = [raw_of(a) for a in actions(SCENARIO)]
    events = raw_events(interleave(good, list(poison.values())))
    h = Harness(config, tmp_path / "log", online=sqlite_sink(tmp_path / "online.db"))
    run_events(h.ingester, events, batch_size=len(events))  # one batch: the bad ones sit among good ones

    snap = h.ingester.stats.snapshot()
    assert (snap.events_in, snap.stored, snap.dead_lettered, snap.skipped) == (
        len(good) + len(poison), len(good), len(poison), 0)
    assert sorted(d.event.value or b"" for d in h.dead.letters) == sorted(v or b"" for v in poison.values())
    expected_ids = sorted(a["action_id"] for a in actions(SCENARIO) if a["verb"] == "job-apply") + sorted(
        e.source_id for e in events if e.topic == "job-interactions")
    assert stored_ids(tmp_path / "online.db") == sorted(expected_ids)
    assert sorted(read_offline_log(tmp_path / "log").column("action_id").to_pylist()) == sorted(expected_ids)
    for letter in h.dead.letters:
        assert letter.step in ("parse", "keep", "enrich", "standardize", "online_sink") and letter.reason
        encoded = encode_dead_letter(letter)
        assert len(encoded) < 1_000_000  # the producer's message.max.bytes
        assert json.loads(encoded)["id"] == f"job-applications/0/{letter.event.offset}"


def test_a_step_that_raises_dead_letters_that_event_once_without_retries(
    config: IngestConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = pipeline_module.standardize

    def buggy(enriched: Any, spec: Any, now: int) -> Any:
        if enriched.kept.parsed.body["application_id"] == "boom":
            raise KeyError("a bug")
        return real(enriched, spec, now)

    monkeypatch.setattr(pipeline_module, "standardize", buggy)
    events = raw_events([("applications", b"1", application(i, 1, 3, NOW - 10)) for i in ("a", "boom", "b")])
    h = Harness(config, tmp_path / "log")
    with caplog.at_level(logging.WARNING, logger="stream_ingest"):
        h.ingester.handle(events)
    assert [(d.step, d.reason, d.event.offset) for d in h.dead.letters] == [("standardize", "KeyError: 'a bug'", 1)]
    assert [a.action_id for a in h.online.actions] == ["a", "b"]
    assert "attempt" not in caplog.text and "attribute lookup" not in caplog.text
    assert "step standardize raised KeyError on job-applications/0/1" in caplog.text
    assert "Traceback" in caplog.text  # the bug's own traceback, once


class PickySink:
    """Refuses (raises for the whole batch) any batch holding an action id it cannot take."""

    def __init__(self, bad: set[str], error: type[Exception] = ValueError) -> None:
        self.bad = bad
        self.error = error
        self.calls = 0
        self.actions: list[Action] = []

    def write(self, actions: Any) -> list[tuple[int, str]]:
        self.calls += 1
        if any(a.action_id in self.bad for a in actions):
            raise self.error(f"cannot store one of {len(actions)}")
        self.actions.extend(actions)
        return []


def test_a_failing_write_is_narrowed_down_to_the_offending_actions(config: IngestConfig, tmp_path: Path) -> None:
    events = raw_events([("applications", b"1", application(f"a{i}", 1, 3, NOW - 10)) for i in range(64)])
    sink = PickySink({"a5", "a40"})
    h = Harness(config, tmp_path / "log", online=sink)
    run_events(h.ingester, events, batch_size=64)
    assert sorted(a.action_id for a in sink.actions) == sorted(f"a{i}" for i in range(64) if i not in (5, 40))
    assert [(d.step, d.event.offset, d.reason) for d in h.dead.letters] == [
        ("online_sink", 5, "ValueError: cannot store one of 1"),
        ("online_sink", 40, "ValueError: cannot store one of 1"),
    ]
    assert sink.calls <= 1 + 2 * 2 * 6  # bisection: about 2 * log2(64) writes per bad action, not 64
    assert sorted(read_offline_log(tmp_path / "log").column("action_id").to_pylist()) == sorted(
        a.action_id for a in sink.actions)


def test_a_broken_store_is_not_retried_and_not_blamed_on_the_events(config: IngestConfig, tmp_path: Path) -> None:
    broken = OnlineStoreError("SQLite write failed: no such table")
    broken.__cause__ = sqlite3.OperationalError("no such table: jobs_member_actions")
    sink = PickySink({"a0"}, error=lambda _: broken)  # type: ignore[arg-type]
    h = Harness(config, tmp_path / "log", online=sink)
    with pytest.raises(SinkError, match="online write failed 1 time"):
        h.ingester.handle(raw_events([("applications", b"1", application("a0", 1, 3, NOW - 10))]))
    assert sink.calls == 1 and h.dead.letters == []


@pytest.mark.parametrize(("error", "kind"), [
    (OnlineStoreUnavailableError("SQLite write failed: database is locked"), Failure.TRANSIENT),
    (PinotConnectionError("cannot reach the Pinot broker"), Failure.TRANSIENT),
    (OSError("disk I/O error"), Failure.TRANSIENT),
    (OnlineStoreError("SQLite write failed: no such table: t"), Failure.BROKEN),
    (OnlineStoreValueError("SQLite write failed: NOT NULL constraint failed"), Failure.DATA),
    (PinotValueError("a bytes actor cannot go into Pinot SQL"), Failure.DATA),
    (OverflowError("Python int too large to convert to SQLite INTEGER"), Failure.DATA),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), Failure.DATA),
    (RecursionError("maximum recursion depth exceeded"), Failure.DATA),
])
def test_failures_are_classified_over_their_cause_chain(error: Exception, kind: Failure) -> None:
    assert classify(error) is kind
    wrapped = OnlineStoreError("the store failed")  # a store error around it decides, unless it is transient
    wrapped.__cause__ = error
    assert classify(wrapped) is (Failure.BROKEN if kind is Failure.DATA else kind)


def test_the_ingester_goes_by_the_declared_types_not_by_drivers_or_messages() -> None:
    # a driver's own error reaching the ingester untranslated is no store's word on anything
    assert classify(sqlite3.OperationalError("database is locked")) is Failure.DATA
    assert classify(OnlineStoreError("database is locked, busy, timed out")) is Failure.BROKEN
    graph = _graph()
    ingester = [m for m in graph if m.startswith("stream_ingest")]
    assert "stream_ingest.retry" in ingester
    assert [m for m in ingester if "sqlite3" in _third_party(m)] == []
    assert [m for m in ingester if any(n.startswith("feast_pinot.online.pinot") for n in graph[m])] == []


class FailingLookup(MemoryLookup):
    """Raises for the whole read when a key it cannot take is among those asked."""

    def get_many(self, keys: Any) -> dict[Key, Any]:
        if 13 in keys:
            raise ValueError("key 13 breaks the store")
        return super().get_many(keys)


def test_a_lookup_failing_on_one_key_dead_letters_the_events_of_that_key_only(
    config: IngestConfig, tmp_path: Path
) -> None:
    values = lookups()
    embeddings = FailingLookup("job_attributes:embedding", {j: [0.5] * 64 for j in range(20)})
    events = raw_events([("applications", b"1", application(f"a{j}", 1, j, NOW - 10)) for j in range(20)])
    h = Harness(config, tmp_path / "log")
    ingester = Ingester(Pipeline(config, LOG, {**values, "job_embedding": embeddings}, now_ms=lambda: NOW,
                                 retry=FAST), h.online, h.offline, h.dead, FAST)
    run_events(ingester, events, batch_size=20)
    assert sorted(a.action_id for a in h.online.actions) == sorted(f"a{j}" for j in range(20) if j != 13)
    assert [(d.step, d.event.offset) for d in h.dead.letters] == [("enrich", 13)]
    reason = "lookups.job_embedding: reading key 13 failed: ValueError: key 13 breaks the store"
    assert reason in h.dead.letters[0].reason


def test_a_dead_letter_is_bounded_and_says_what_it_cut() -> None:
    event = RawEvent("raw", 1, 7, b"k" * 40_000, b"v" * 3_000_000, NOW, generation=2)
    letter = DeadLetter(event, "parse", "x" * 10_000)
    encoded = encode_dead_letter(letter)
    body = json.loads(encoded)
    assert len(encoded) < 800_000
    assert body["id"] == "raw/1/7@g2"
    assert body["payload_truncated"] == {"key_bytes": 40_000, "value_bytes": 3_000_000}
    back = decode_dead_letter(encoded)
    assert back.event.key == b"k" * 16_384 and back.event.value == b"v" * (MAX_COPY_BYTES - 16_384)
    assert back.event.generation == 2 and len(back.reason) == 2000
    small = DeadLetter(RawEvent("raw", 0, 1, None, b"{}", NOW), "parse", "r")
    assert json.loads(encode_dead_letter(small))["payload_truncated"] is None
    assert decode_dead_letter(encode_dead_letter(small)) == small


def test_stale_temporary_part_files_are_removed_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "date=2026-12-01"
    folder.mkdir()
    stale = folder / ".part-00000000000000000001-abc.parquet.tmp"
    fresh = folder / ".part-00000000000000000002-def.parquet.tmp"  # another process writing it now
    part = folder / "part-00000000000000000003-ghi.parquet"
    for path in (stale, fresh, part):
        path.write_bytes(b"PAR1")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(part, (old, old))
    offline_sink(tmp_path, LOG)
    assert sorted(p.name for p in folder.iterdir()) == sorted([fresh.name, part.name])


def test_temporary_part_files_left_while_running_are_removed_at_a_later_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = offline_sink(tmp_path, LOG)
    folder = tmp_path / "date=2026-12-01"
    folder.mkdir()
    left = folder / ".part-00000000000000000001-abc.parquet.tmp"  # a write another process crashed in
    left.write_bytes(b"PAR1")
    sink.flush()
    assert left.exists()  # younger than STALE_TEMP_S: maybe still being written
    monkeypatch.setattr(sinks_module, "STALE_TEMP_S", 0.0)
    sink.flush()
    assert not left.exists()
