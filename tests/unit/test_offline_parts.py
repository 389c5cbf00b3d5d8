"""The offline log's Parquet parts and the DuckDB session of the offline engines."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, ValueType

from feast_pinot import action_log
from feast_pinot.errors import ActionValidationError, DeclarationError, OfflineStoreError
from feast_pinot.offline.duckdb import session
from feast_pinot.offline.parts import action_log_columns, log_parts, resolve_path, write_action_parts
from feast_pinot.offline.storage import open_log
from feast_pinot.specs import ActionLogSpec

DAY = 86_400_000
SPEC = ActionLogSpec(
    name="member_actions", actor_join_key="member_id", actor_is_int=True,
    verbs=("job-apply", "job-view"), retention_ms=96 * 3_600_000, max_actions=200,
    embedding_dim=2, future_tolerance_ms=300_000, path="data/member_actions",
)


def _table(ids: list[str], days: list[int], verb: str = "job-apply") -> pa.Table:
    n = len(ids)
    return pa.table({
        "member_id": pa.array([7] * n, pa.int64()), "action_id": ids, "verb": [verb] * n,
        "object": ["job:1"] * n, "attributes": [None] * n,
        "event_timestamp": pa.array([d * DAY for d in days], pa.timestamp("ms", tz="UTC")),
        "embedding": pa.array([[0.5, 1.5]] * n, pa.list_(pa.float32())),
    })


def test_a_write_makes_one_part_per_event_date_and_leaves_no_temporary(tmp_path: Path) -> None:
    written = write_action_parts(str(tmp_path), _table(["a", "b", "c"], [20_000, 20_001, 20_000]), SPEC)
    assert [Path(p).parent.name for p in written] == ["date=2024-10-04", "date=2024-10-05"]
    assert [pq.read_table(p).column("action_id").to_pylist() for p in written] == [["a", "c"], ["b"]]
    assert pq.read_schema(written[0]).names == list(action_log_columns(SPEC))
    assert sorted(f for _, _, files in os.walk(tmp_path) for f in files if f.endswith(".tmp")) == []


def test_parts_are_listed_in_write_order_not_folder_order(tmp_path: Path) -> None:
    later_date = write_action_parts(str(tmp_path), _table(["a"], [20_001]), SPEC)
    earlier_date = write_action_parts(str(tmp_path), _table(["b"], [20_000]), SPEC)
    assert log_parts(str(tmp_path)).paths == later_date + earlier_date


def test_bad_parts_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ActionValidationError, match="unknown verb 'job-save'"):
        write_action_parts(str(tmp_path), _table(["a"], [20_000], verb="job-save"), SPEC)
    with pytest.raises(OfflineStoreError, match="actions for 'member_actions' do not match its columns"):
        write_action_parts(str(tmp_path), _table(["a"], [20_000]).drop_columns(["verb"]), SPEC)
    assert log_parts(str(tmp_path)).paths == []


def test_paths_are_relative_to_the_feature_repo() -> None:
    assert resolve_path("/repo", "data/log") == "/repo/data/log"
    assert resolve_path("/repo", "/abs/log") == "/abs/log"
    assert resolve_path("/repo", "s3://bucket/log") == "s3://bucket/log"
    assert resolve_path(None, "data/log") == "data/log"


def test_the_session_is_utc_and_names_what_failed() -> None:
    with session("reading things") as con:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    with pytest.raises(duckdb.ConnectionException):  # closed on leaving
        con.execute("SELECT 1")
    with pytest.raises(OfflineStoreError, match=r"^reading things failed: .*no_such_table") as info, \
            session("reading things") as con:
        con.execute("SELECT * FROM no_such_table")
    assert isinstance(info.value.__cause__, duckdb.Error)
    with pytest.raises(KeyError), session("reading things"):  # not DuckDB's: passes through as it is
        raise KeyError("x")


def test_a_credential_in_a_log_uri_is_refused_without_repeating_it() -> None:
    member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64)
    with pytest.raises(DeclarationError, match=r"path: the action log URI s3://b/log carries secret_key: give") as info:
        action_log("acts", member, ["a"], "s3://b/log?region=eu-west-1&secret_key=hunter2")
    assert "hunter2" not in str(info.value)
    with pytest.raises(OfflineStoreError, match=r"carries a user name or password") as opened:
        open_log("s3://me:hunter2@b/log")
    assert "hunter2" not in str(opened.value)
    assert action_log("acts", member, ["a"], "s3://b/log?endpoint_override=h:9000&scheme=http").name == "acts"


def test_a_uri_pyarrow_cannot_open_is_an_offline_store_error() -> None:
    with pytest.raises(OfflineStoreError, match=r"^the action log URI nope://b/log cannot be opened: "):
        log_parts("nope://b/log")


def test_a_file_uri_is_the_local_disk_and_listings_keep_only_parts(tmp_path: Path) -> None:
    written = write_action_parts(f"file://{tmp_path}", _table(["a"], [20_000]), SPEC)
    folder = tmp_path / "date=2024-10-04"
    (folder / ".part-0-x.parquet.tmp").write_bytes(b"half")  # a crashed write's leftover
    (folder / "notes.txt").write_text("not a part")
    (folder / "marker.parquet").mkdir()  # a folder listed like an object (S3 directory markers)
    (tmp_path / "_ingest_offsets").mkdir()
    (tmp_path / "_ingest_offsets" / "x.parquet").write_bytes(b"")
    assert open_log(f"file://{tmp_path}").local
    assert log_parts(f"file://{tmp_path}").paths == written == log_parts(str(tmp_path)).paths
