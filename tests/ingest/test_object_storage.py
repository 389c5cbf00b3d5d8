"""The ingester's offline sink and its marks on S3 (the session's S3Proxy), in-process (no Kafka)."""

from __future__ import annotations

import json

import pyarrow.fs as pafs
import pytest

from demo.synthetic import actions
from feast_pinot.offline.storage import open_log
from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.marks import Mark, ObjectMarkStore, mark_store_beside
from stream_ingest.pipeline import run_events
from tests.fixtures.s3 import S3Server
from tests.ingest.support import example_config_dict, raw_of, read_offline_log
from tests.ingest.test_pipeline import SCENARIO, Harness, raw_events

APPS = ("job-applications", 0)


@pytest.fixture(scope="module")
def config() -> IngestConfig:
    return parse_config(example_config_dict())


def _mark_objects(server: S3Server, log: str, tp: tuple[str, int]) -> list[str]:
    folder = f"{log.removeprefix('s3://')}/_ingest_offsets/group-1/{tp[0]}-{tp[1]}"
    found = server.filesystem().get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    return [f.path.rsplit("/", 1)[-1] for f in found if f.type == pafs.FileType.File]


def test_a_checkpoint_writes_parts_then_marks_as_objects(config: IngestConfig, s3_log: str,
                                                         s3_server: S3Server) -> None:
    events = raw_events([raw_of(a) for a in actions(SCENARIO)])
    h = Harness(config, s3_log)
    run_events(h.ingester, events, batch_size=25)
    offline = read_offline_log(s3_log).column("action_id").to_pylist()
    assert sorted(offline) == sorted(a.action_id for a in h.online.actions) and len(offline) == len(events)
    apps = [e.offset for e in events if e.topic == APPS[0]]
    assert _mark_objects(s3_server, s3_log, APPS) == [f"mark-{0:010d}-{max(apps) + 1:020d}.json"]  # older deleted
    assert mark_store_beside(s3_log, "group-1").load(APPS) == Mark(max(apps) + 1, 0, None)


def test_a_replay_after_a_checkpoint_writes_no_offline_duplicates_on_s3(config: IngestConfig, s3_log: str) -> None:
    events = raw_events([raw_of(a) for a in actions(SCENARIO)])
    run_events(Harness(config, s3_log).ingester, events[:40], batch_size=10)
    # "crash" after the offline write but before the Kafka commit: a new process replays from offset 0
    again = Harness(config, s3_log)
    run_events(again.ingester, events, batch_size=10)
    offline_ids = read_offline_log(s3_log).column("action_id").to_pylist()
    assert len(offline_ids) == len(events) == len(set(offline_ids))


def test_object_marks_newest_wins_and_older_are_deleted(s3_log: str, s3_server: S3Server) -> None:
    store = ObjectMarkStore(open_log(s3_log), "group-1")
    assert store.load(APPS) is None
    store.save(APPS, Mark(5, 0, None))
    store.save(APPS, Mark(5, 0, "T1"))  # the same mark with the topic id: the object is replaced whole
    assert store.load(APPS) == Mark(5, 0, "T1")
    store.save(APPS, Mark(12, 0, "T1"))
    store.save(APPS, Mark(0, 1, "T2"))  # a new generation starts at 0 and still sorts last
    assert store.load(APPS) == Mark(0, 1, "T2")
    assert _mark_objects(s3_server, s3_log, APPS) == [f"mark-{1:010d}-{0:020d}.json"]
    body = s3_server.filesystem().open_input_stream(
        f"{s3_log.removeprefix('s3://')}/_ingest_offsets/group-1/{APPS[0]}-0/mark-{1:010d}-{0:020d}.json").read()
    assert json.loads(body) == {"next_offset": 0, "generation": 1, "topic_id": "T2"}
