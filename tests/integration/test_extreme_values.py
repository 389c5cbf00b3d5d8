"""Training equals serving for every finite float32, and a corrupt part cannot poison a member's windows.

A valid float32 reaches 3.4e38. The offline engine used to take each window as
the difference of two running sums, so one huge old value swallowed every
later window of its member (1h and 24h means of 0.0 offline against 0.1 /
0.15 online); a NaN planted in a Parquet part turned every later window NaN.
Here the same actions are served online (embedded store, pinned clock) and
rebuilt offline, and every feature must agree (floats within 1e-6, relative
for large magnitudes).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import FeatureStore

from feast_pinot import action_history, action_log, push_actions, windowed_action_features
from feast_pinot.clock import frozen
from feast_pinot.offline.parts import part_schema
from feast_pinot.specs import ActionLogSpec, spec_of
from tests.integration.mini_repo import YAML, jobs_entities, jobs_frame

HOUR = 3_600_000
NOW = 1_767_571_200_000 + 100 * HOUR
MEMBER, CORRUPT_MEMBER = 1, 2
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "96h": timedelta(hours=96)}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    root = tmp_path_factory.mktemp("extremes")
    (root / "data").mkdir()
    (root / "feature_store.yaml").write_text(YAML)
    jobs_frame({7: [0.6, 0.8]}, NOW - 200 * HOUR).to_parquet(root / "data" / "jobs.parquet", index=False)
    member, job, job_attributes = jobs_entities()
    acts = action_log("acts", member, ("job-apply",), "data/acts", embedding_dim=2, retention=timedelta(hours=96))
    history = action_history("acts_hist", acts)
    view = windowed_action_features("acts_win", history, WINDOWS, candidate=job_attributes[["embedding"]],
                                    half_lives={"1h": timedelta(hours=1), "24h": timedelta(hours=24)})
    feature_store = FeatureStore(repo_path=str(root))
    feature_store.apply([member, job, job_attributes, acts, history, view])
    feature_store.materialize(datetime(2000, 1, 1, tzinfo=timezone.utc),
                              datetime.fromtimestamp(NOW / 1000, tz=timezone.utc))
    return feature_store


def _action(aid: str, member: int, ts: int, value: float) -> dict[str, Any]:
    return {"action_id": aid, "actor": member, "verb": "job-apply", "object": "job:7", "timestamp": ts,
            "objectAttributes": {"embedding": [value, value]}}


def _features(store: FeatureStore) -> list[str]:
    return [f"acts_win:{f.name}" for f in store.get_on_demand_feature_view("acts_win").features]


def _online(store: FeatureStore, member: int) -> dict[str, Any]:
    with frozen(NOW):
        found = store.get_online_features(
            features=_features(store), entity_rows=[{"member_id": member, "job_id": 7, "request_ts": NOW}],
        ).to_dict()
    return {name: values[0] for name, values in found.items()}


def _offline(store: FeatureStore, member: int) -> dict[str, Any]:
    rows = pd.DataFrame({"member_id": [member], "job_id": [7],
                         "event_timestamp": pd.to_datetime([NOW], unit="ms", utc=True), "request_ts": [NOW]})
    frame = store.get_historical_features(entity_df=rows, features=_features(store)).to_df()
    return {name: frame[name].iloc[0] for name in frame.columns}


def _assert_equal(online: dict[str, Any], offline: dict[str, Any]) -> None:
    names = [n for n in online if n not in ("member_id", "job_id", "request_ts")]
    assert names, "no feature was served"
    for name in names:
        got, want = np.asarray(offline[name], np.float64), np.asarray(online[name], np.float64)
        assert np.isfinite(got).all(), f"{name}: offline {got}"
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("huge", [3e38, 1e20, 1e12])
def test_a_huge_old_value_leaves_later_windows_as_served(store: FeatureStore, huge: float) -> None:
    member = MEMBER + int(math.log10(huge)) * 10  # a member per magnitude
    with frozen(NOW):
        push_actions(store, "acts", [_action(f"big-{member}", member, NOW - 80 * HOUR, huge),
                                     _action(f"a-{member}", member, NOW - 30 * 60_000, 0.1),
                                     _action(f"b-{member}", member, NOW - 10 * 60_000, 0.2)])
    online, offline = _online(store, member), _offline(store, member)
    recent = float(np.float32((np.float64(np.float32(0.1)) + np.float64(np.float32(0.2))) / 2))
    assert online["job_apply_mean_emb_1h"] == online["job_apply_mean_emb_24h"] == [recent, recent]
    assert offline["job_apply_count_96h"] == online["job_apply_count_96h"] == 3
    np.testing.assert_allclose(offline["job_apply_mean_emb_96h"], np.float32(np.float32(huge) / 3), rtol=1e-6)
    _assert_equal(online, offline)


def _plant_part(store: FeatureStore, rows: list[dict[str, Any]]) -> Path:
    """A part written around the project's writers (as a corrupt file or another writer would)."""
    spec = spec_of(store.get_feature_view("acts"), ActionLogSpec)
    assert spec is not None
    folder = Path(store.repo_path) / spec.path / "date=2026-01-09"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "member_id": [r["actor"] for r in rows], "action_id": [r["action_id"] for r in rows],
        "verb": [r["verb"] for r in rows], "object": [r["object"] for r in rows], "attributes": ["{}"] * len(rows),
        "event_timestamp": pa.array([r["timestamp"] for r in rows], pa.timestamp("ms", tz="UTC")),
        "embedding": [r["objectAttributes"]["embedding"] for r in rows],
    }, schema=part_schema(spec))
    path = folder / "part-9999999999999999999-planted.parquet"
    pq.write_table(table, path)
    return path


def test_a_planted_nan_is_skipped_with_its_part_named(store: FeatureStore, caplog: pytest.LogCaptureFixture) -> None:
    member = CORRUPT_MEMBER
    with frozen(NOW):
        push_actions(store, "acts", [_action("fine-1", member, NOW - 50 * HOUR, 0.5),
                                     _action("fine-2", member, NOW - 20 * 60_000, 0.25)])
    part = _plant_part(store, [_action("nan-1", member, NOW - 30 * HOUR, float("nan")),
                               _action("inf-1", member, NOW - 40 * 60_000, float("inf"))])
    with caplog.at_level(logging.WARNING, logger="feast_pinot.offline.log"):
        offline = _offline(store, member)
    online = _online(store, member)  # online never held them: the stores refuse non-finite values
    assert offline["job_apply_count_24h"] == online["job_apply_count_24h"] == 1
    assert offline["job_apply_count_1h"] == 1
    assert list(offline["job_apply_mean_emb_1h"]) == [0.25, 0.25]
    _assert_equal(online, offline)
    assert any(str(part) in r.getMessage() and "2 action(s)" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
