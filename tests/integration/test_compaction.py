"""Compaction (``python -m feast_pinot.offline.compact``): the same training data before, during and after.

The logs get many small parts over several dates, with later copies of ids
(other content, some in another date folder). Training data from
``get_historical_features`` (the DuckDB engine: the sorted-log loader and the
history join) must be equal, value for value, after a run, when a run is cut
short between its write and its deletes, with a late write landing mid-run,
and after a second run; and on S3.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast import FeatureStore

from feast_pinot import clock
from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline import compact as compact_module
from feast_pinot.offline.compact import compact_log, main, parse_age
from feast_pinot.offline.parts import log_parts, part_bytes, part_name, part_schema, write_action_parts
from feast_pinot.offline.storage import LogStore, open_log
from feast_pinot.specs import ActionLogSpec, spec_of
from tests.integration.test_object_storage import _actions, _entities, _refs, _repo

LOGS = ("acts", "light")
LATER_NS = 10 * 3600 * 10**9  # a "now" this far ahead makes every part old


def _write(store: FeatureStore, frame: pd.DataFrame) -> None:
    for log in LOGS:
        spec = spec_of(store.get_feature_view(log), ActionLogSpec)
        assert spec is not None
        rows = frame if log == "acts" else frame.drop(columns=["embedding"])
        table = pa.Table.from_pandas(rows, preserve_index=False)
        write_action_parts(_root(store, log), table, spec)


def _root(store: FeatureStore, log: str) -> str:
    spec = spec_of(store.get_feature_view(log), ActionLogSpec)
    assert spec is not None
    return spec.path if "://" in spec.path else str(Path(store.repo_path) / spec.path)


def _batches(now: int, count: int, seed: int) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    batches = [_actions(now, rng, 40, f"b{seed}-{i}-") for i in range(count)]
    for i in range(1, count):  # later copies of earlier ids, other content (time, actor, verb: often another date)
        batches[i].loc[:4, "action_id"] = batches[i - 1]["action_id"][5:10].to_numpy()
    return batches


def _training(store: FeatureStore, now: int) -> pd.DataFrame:
    entities = _entities(now, np.random.default_rng(5))
    return store.get_historical_features(entity_df=entities, features=_refs(store), full_feature_names=True).to_df()


def _parts(store: FeatureStore) -> int:
    return sum(len(log_parts(_root(store, log)).paths) for log in LOGS)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[FeatureStore, int]:
    now = clock.now_ms()
    store = _repo(tmp_path / "repo", {log: f"data/{log}" for log in LOGS}, now)
    for batch in _batches(now, 8, 1):
        _write(store, batch)
    return store, now


def _compact_all(store: FeatureStore, now_ns: int) -> list[Any]:
    return [compact_log(_root(store, log), parse_age("1h"), now_ns) for log in LOGS]


def test_compaction_keeps_training_data_and_is_idempotent(repo: tuple[FeatureStore, int]) -> None:
    store, now = repo
    before, parts = _training(store, now), _parts(store)
    done = _compact_all(store, time.time_ns() + LATER_NS)
    assert _parts(store) == sum(d.parts_after for d in done) < parts
    assert all(d.parts_after == d.folders for d in done)  # one part per date folder
    assert all(d.rows_dropped > 0 for d in done)  # the later copies that never counted
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)
    again = _compact_all(store, time.time_ns() + LATER_NS)
    assert [(d.parts_before, d.parts_after, d.rows_kept) for d in again] == [(d.parts_after, d.parts_after, 0)
                                                                           for d in done]
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)


def test_only_parts_older_than_the_age_are_compacted(repo: tuple[FeatureStore, int]) -> None:
    store, now = repo
    cutoff = time.time_ns()
    for batch in _batches(now, 3, 2):  # written after the cutoff: too young
        _write(store, batch)
    before, parts = _training(store, now), _parts(store)
    young = {p for log in LOGS for p in log_parts(_root(store, log)).paths if int(Path(p).name.split("-")[1]) > cutoff}
    _compact_all(store, cutoff + int(parse_age("1h") * 1e9))
    after = {p for log in LOGS for p in log_parts(_root(store, log)).paths}
    assert young < after and len(after) < parts
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)


@pytest.mark.parametrize("deleted", [0, 1, 5])
def test_a_run_cut_short_reads_the_same_and_the_next_run_finishes(
        repo: tuple[FeatureStore, int], monkeypatch: pytest.MonkeyPatch, deleted: int) -> None:
    store, now = repo
    before = _training(store, now)
    real_delete = LogStore.delete

    def cut(self: LogStore, paths: list[str], missing_ok: bool = True) -> None:
        real_delete(self, paths[:deleted])
        raise OSError("killed")

    monkeypatch.setattr(LogStore, "delete", cut)
    with pytest.raises(OfflineStoreError, match=r"killed; the log reads the same \(run the command again"):
        compact_log(_root(store, "acts"), 3600, time.time_ns() + LATER_NS)
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)
    monkeypatch.setattr(LogStore, "delete", real_delete)
    _compact_all(store, time.time_ns() + LATER_NS)
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)


def test_a_late_write_during_a_run_is_kept(repo: tuple[FeatureStore, int], monkeypatch: pytest.MonkeyPatch) -> None:
    store, now = repo
    late = _batches(now, 2, 3)[1]  # new ids, and copies of ids of a batch never written (they count)
    late.loc[5:9, "action_id"] = _batches(now, 8, 1)[0]["action_id"][:5].to_numpy()  # copies that do not count
    real_merge = compact_module._merge

    def merge_after_a_write(*args: Any) -> Any:
        if not late.attrs.get("written"):
            _write(store, late)  # lands after the run listed the log, before it writes
            late.attrs["written"] = True
        return real_merge(*args)

    monkeypatch.setattr(compact_module, "_merge", merge_after_a_write)
    _compact_all(store, time.time_ns() + LATER_NS)
    monkeypatch.setattr(compact_module, "_merge", real_merge)
    with_late = _training(store, now)
    fresh = _repo(Path(store.repo_path).parent.parent / "fresh", {log: f"data/{log}" for log in LOGS}, now)
    for batch in [*_batches(now, 8, 1), late]:  # the same writes, never compacted
        _write(fresh, batch)
    pd.testing.assert_frame_equal(with_late, _training(fresh, now), check_exact=True)


def test_rows_readers_skip_stay_skipped_and_the_next_copy_counts(tmp_path: Path) -> None:
    """A part written by another writer, first, with embeddings that are not finite: readers skip those rows,
    so the copies that count are the later ones; compaction keeps both (the skipped ones still skipped)."""
    now = clock.now_ms()
    store = _repo(tmp_path / "repo", {log: f"data/{log}" for log in LOGS}, now)
    batches = _batches(now, 4, 5)
    corrupt = batches[0].iloc[10:30]
    spec = spec_of(store.get_feature_view("acts"), ActionLogSpec)
    assert spec is not None
    nan = pa.array([[float("nan"), 1.0]] * 20, pa.list_(pa.float32()), from_pandas=False)
    table = pa.Table.from_pandas(corrupt, preserve_index=False).set_column(
        list(corrupt.columns).index("embedding"), "embedding", nan).select(list(part_schema(spec).names))
    open_log(_root(store, "acts")).write_whole(
        f"{_root(store, 'acts')}/date={corrupt['event_timestamp'].iloc[0]:%Y-%m-%d}/{part_name(time.time_ns())}",
        part_bytes(table.cast(part_schema(spec))))
    for batch in batches:
        _write(store, batch)
    before = _training(store, now)
    done = compact_log(_root(store, "acts"), 3600, time.time_ns() + LATER_NS)
    assert done.rows_kept == 4 * 40 - 3 * 5 + 20  # the skipped rows and every id's first readable copy
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)


def test_compaction_on_s3(tmp_path: Path, s3_log: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = clock.now_ms()
    store = _repo(tmp_path / "repo", {log: f"{s3_log}-{log}" for log in LOGS}, now)
    for batch in _batches(now, 5, 4):
        _write(store, batch)
    before, acts = _training(store, now), _root(store, "acts")
    parts = len(log_parts(acts).paths)
    assert main([acts, "--older-than", "0s"]) == 0
    after = log_parts(acts).paths
    assert capsys.readouterr().out.startswith(f"{acts}: {parts} part(s) -> {len(after)}; {len(after)} date folder(s)")
    assert len(after) < parts and all("-c-" in Path(p).name for p in after)
    pd.testing.assert_frame_equal(_training(store, now), before, check_exact=True)


def test_bad_ages_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_age("90s") == 90 and parse_age("1.5h") == 5400 and parse_age("2d") == 172_800
    with pytest.raises(OfflineStoreError, match=r"--older-than '1 hour': expected a number and a unit"):
        parse_age("1 hour")
    assert main([str(tmp_path), "--older-than", "1 hour"]) == 2
    assert capsys.readouterr().err == ("compact: --older-than '1 hour': expected a number and a unit (s, m, h, d), "
                                       "e.g. 1h\n")
    assert main(["s3://b/log?secret_key=x", "--older-than", "1h"]) == 2
    assert "carries secret_key" in capsys.readouterr().err
