"""Bad values never break reads, never leak between members, and online equals offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore

from feast_pinot import push_actions, with_request_ts
from feast_pinot.clock import frozen, now_ms
from tests.integration.mini_repo import HOUR, jobs_frame, make_mini_repo

NOW = now_ms() // 1000 * 1000
JOBS = {3: [1.0, 2.0], 5: [3.0, 4.0]}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return make_mini_repo(tmp_path_factory.mktemp("hardening") / "repo", jobs_frame(JOBS, NOW - 50 * HOUR))


def _act(actor: int, obj: str, ts: int, verb: str = "a", **extra: Any) -> dict[str, Any]:
    return {"actor": actor, "verb": verb, "object": obj, "timestamp": ts, **extra}


def _online(store: FeatureStore, refs: list[str], member: int) -> dict[str, Any]:
    with frozen(NOW):
        got = store.get_online_features(features=refs, entity_rows=[{"member_id": member, "request_ts": NOW}])
    return {k: v[0] for k, v in got.to_dict().items()}


def _offline(store: FeatureStore, refs: list[str], members: list[int]) -> pd.DataFrame:
    at = pd.Timestamp(NOW, unit="ms", tz="UTC")
    entity_df = with_request_ts(pd.DataFrame({"member_id": members, "event_timestamp": [at] * len(members)}))
    return store.get_historical_features(entity_df=entity_df, features=refs).to_df()


def _vectors(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, "<f4").reshape(-1, 2)


def test_attribute_parquet_with_nanosecond_timestamps_joins_offline(store: FeatureStore) -> None:
    with frozen(NOW):
        push_actions(store, "light", [_act(10, "job:5", NOW - 1000)])
    assert str(pd.read_parquet(Path(store.repo_path) / "data" / "jobs.parquet")["event_timestamp"].dtype) == (
        "datetime64[ns, UTC]")
    out = _offline(store, ["light_hist:action_embeddings"], [10])
    assert _vectors(out.loc[0, "action_embeddings"]).tolist() == [[3.0, 4.0]]


def test_object_ids_outside_ascii_digits_or_int64_have_no_attribute_online_and_offline(store: FeatureStore) -> None:
    member = 11
    objects = ["job:3", "job:99999999999999999999", "job:\u0663", "job:+5", "job:9223372036854775807"]
    with frozen(NOW):
        push_actions(store, "light", [_act(member, obj, NOW - 10_000 + i) for i, obj in enumerate(objects)])
    lists = ["light_hist:action_objects", "light_hist:action_embeddings"]
    windows = ["light_win:a_mean_emb_1h", "light_win:a_count_1h"]
    online = _online(store, lists + windows, member)
    # the lists and the windows of one history come from separate offline calls (docs/configuration.md)
    offline = {**_offline(store, lists, [member]).iloc[0], **_offline(store, windows, [member]).iloc[0]}
    newest_first = objects[::-1]
    for got in (online, offline):
        assert list(got["action_objects"]) == newest_first
        vectors = _vectors(got["action_embeddings"])
        assert np.isnan(vectors[:4]).all()  # int64 max: a valid key with no job; +5, ٣, 2^66: no key
        assert vectors[4].tolist() == [1.0, 2.0]
        assert list(got["a_mean_emb_1h"]) == [1.0, 2.0]
        assert got["a_count_1h"] == 5
