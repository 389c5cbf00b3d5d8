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


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    base = {"member_id": 1, "action_id": None, "verb": "a", "object": "job:3", "attributes": None,
            "embedding": [0.5, 0.25], "event_timestamp": pd.Timestamp(NOW - 1000, unit="ms", tz="UTC")}
    return pd.DataFrame([{**base, **row} for row in rows])


def _parts(store: FeatureStore, log: str) -> list[Path]:
    return sorted((Path(store.repo_path) / "data" / log).rglob("*.parquet"))


def _online_ids(store: FeatureStore, member: int) -> list[str]:
    import sqlite3

    db = sqlite3.connect(Path(store.repo_path) / "data" / "online.db")
    rows = db.execute('SELECT action_id FROM "mini_acts" WHERE actor = ? ORDER BY action_id', (member,))
    return [r[0] for r in rows]


def _offline_ids(store: FeatureStore, member: int) -> list[str]:
    stored = pd.concat([pd.read_parquet(p) for p in _parts(store, "acts")])
    return sorted(stored.loc[stored["member_id"] == member, "action_id"])


@pytest.mark.parametrize(("embedding", "reason"), [
    ([float("nan"), 0.0], "embedding contains NaN or infinity"),
    ([1e39, 0.0], "embedding values must be within float32's range (|x| <= 3.402823e+38)"),
])
def test_feast_offline_push_refuses_what_push_actions_refuses(
        store: FeatureStore, embedding: list[float], reason: str) -> None:
    from feast.data_source import PushMode

    from feast_pinot import ActionValidationError

    before = _parts(store, "acts")
    frame = _frame([{"member_id": 4, "action_id": "fine"}, {"member_id": 4, "embedding": embedding}])
    with pytest.raises(ActionValidationError) as err:
        store.push("acts_push", frame, to=PushMode.OFFLINE)
    assert err.value.problems == [(1, reason)]
    with pytest.raises(ActionValidationError) as again:
        push_actions(store, "acts", [{"actor": 4, "verb": "a", "object": "job:3", "timestamp": NOW - 1000,
                                      "objectAttributes": {"embedding": embedding}}], to=PushMode.OFFLINE)
    assert again.value.problems == [(0, reason)]
    assert _parts(store, "acts") == before


def test_feast_push_to_both_stores_derives_missing_ids_alike(store: FeatureStore) -> None:
    from feast.data_source import PushMode

    from feast_pinot.actions import derive_action_id

    frame = _frame([{"member_id": 20, "object": "job:1"}, {"member_id": 20, "object": "job:2"}])
    with frozen(NOW):
        store.push("acts_push", frame, to=PushMode.ONLINE_AND_OFFLINE)
    expected = sorted(derive_action_id({"actor": 20, "verb": "a", "object": f"job:{j}", "timestamp": NOW - 1000})
                      for j in (1, 2))
    assert _online_ids(store, 20) == expected
    assert _offline_ids(store, 20) == expected


def test_feast_push_to_both_stores_writes_nothing_when_one_row_is_bad(store: FeatureStore) -> None:
    from feast.data_source import PushMode

    from feast_pinot import ActionValidationError

    before = _parts(store, "acts")
    frame = _frame([{"member_id": 21}, {"member_id": 21, "attributes": "not json"}])
    with frozen(NOW), pytest.raises(ActionValidationError) as err:
        store.push("acts_push", frame, to=PushMode.ONLINE_AND_OFFLINE)
    assert err.value.problems == [(1, "'attributes' must be a JSON object (text), got 'not json'")]
    assert _online_ids(store, 21) == [] and _parts(store, "acts") == before


def test_push_actions_takes_what_a_pandas_user_has(store: FeatureStore) -> None:
    from feast_pinot.actions import derive_action_id

    standard = pd.DataFrame({
        "actor": np.array([30, 30], dtype=np.int64), "verb": ["a", "b"], "object": ["job:1", "job:2"],
        "timestamp": np.array([NOW - 2000, NOW - 1000], dtype=np.int64),
        "objectAttributes": [{"embedding": np.array([1.0, 2.0], np.float32)}, {"embedding": np.ones(2)}],
    })
    push_frame = _frame([{"member_id": 31}]).drop(columns=["action_id", "attributes"])
    with frozen(NOW):
        assert push_actions(store, "acts", standard) == 2
        assert push_actions(store, "acts", push_frame) == 1
    assert _online_ids(store, 30) == sorted(
        derive_action_id({"actor": 30, "verb": v, "object": f"job:{j}", "timestamp": NOW - 3000 + 1000 * j})
        for v, j in (("a", 1), ("b", 2)))
    assert _online_ids(store, 31) == [derive_action_id(
        {"actor": 31, "verb": "a", "object": "job:3", "timestamp": NOW - 1000})]
    assert _offline_ids(store, 30) == _online_ids(store, 30)


@pytest.mark.parametrize(("actions", "message"), [
    (pd.DataFrame({"who": [1]}), "action 0: a DataFrame of actions needs an 'actor' column (the standard action "
                                 "schema) or 'member_id' (the push frame of 'acts'); got columns ['who']"),
    (pd.DataFrame({"member_id": [1]}), "action 0: a push frame needs an 'event_timestamp' column"),
    ({"actor": 1}, "action 0: pass a list of actions or a DataFrame, not one dict"),
])
def test_push_actions_says_what_to_pass(store: FeatureStore, actions: Any, message: str) -> None:
    from feast_pinot import ActionValidationError

    with pytest.raises(ActionValidationError) as err:
        push_actions(store, "acts", actions)
    assert str(err.value) == f"1 invalid action(s): {message}"


def _plant_part(store: FeatureStore, rows: list[tuple[int, str, list[float]]]) -> None:
    """A part file written by hand, past every check a write path makes."""
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(store.repo_path) / "data" / "acts" / "date=planted"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    table = pa.table({
        "member_id": pa.array([r[0] for r in rows], pa.int64()),
        "action_id": [r[1] for r in rows], "verb": ["a"] * n, "object": ["job:1"] * n, "attributes": ["{}"] * n,
        "event_timestamp": pa.array([NOW - 5000 + i for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "embedding": pa.array([r[2] for r in rows], pa.list_(pa.float32())),
    })
    pq.write_table(table, folder / f"part-{time.time_ns():020d}-planted.parquet")


def test_a_huge_or_nan_value_in_one_actor_never_reaches_another(store: FeatureStore) -> None:
    _plant_part(store, [
        (40, "huge-1", [3e38, 3e38]), (40, "huge-2", [1.0, 1.0]),
        (41, "after-huge-1", [0.5, 0.25]), (41, "after-huge-2", [1.5, 0.75]),
        (42, "nan-1", [float("nan"), 1.0]), (42, "nan-2", [1.0, 1.0]),
        (43, "after-nan-1", [2.0, 4.0]), (43, "after-nan-2", [4.0, 8.0]),
    ])
    refs = ["acts_win:a_mean_emb_96h", "acts_win:a_mean_emb_1h", "acts_win:a_count_96h"]
    out = _offline(store, refs, [41, 43, 40, 42, 41]).set_index(pd.RangeIndex(5))
    for row, mean in ((0, [1.0, 0.5]), (1, [3.0, 6.0]), (4, [1.0, 0.5])):
        assert list(out.loc[row, "a_mean_emb_96h"]) == mean
        assert list(out.loc[row, "a_mean_emb_1h"]) == mean
        assert out.loc[row, "a_count_96h"] == 2
    assert list(out.loc[2, "a_mean_emb_96h"]) == [np.float32(1.5e38)] * 2  # its own value, unchanged


def test_an_action_id_reused_by_another_member_counts_for_the_first_writer_only(store: FeatureStore) -> None:
    first, second = 50, 51
    with frozen(NOW):
        for member in (first, second):
            push_actions(store, "acts", [{"action_id": "shared-1", "actor": member, "verb": "b", "object": "job:5",
                                          "timestamp": NOW - 1000, "objectAttributes": {"embedding": [1.0, 1.0]}}])
    assert _online(store, ["acts_win:b_count_1h"], first)["b_count_1h"] == 1
    assert _online(store, ["acts_win:b_count_1h"], second)["b_count_1h"] == 0
    for members in ([second], [first, second], [second, first]):
        out = _offline(store, ["acts_win:b_count_1h"], members)
        assert dict(zip(out["member_id"], out["b_count_1h"])) == {m: int(m == first) for m in members}
        lists = _offline(store, ["acts_hist:action_objects"], members)
        assert {m: len(v) for m, v in zip(lists["member_id"], lists["action_objects"])} == {
            m: int(m == first) for m in members}


@pytest.mark.parametrize(("value", "message"), [
    (2**63, "'request_ts' must be epoch ms within int64, got 9223372036854775808 in row 1"),
    (None, "'request_ts' is required (epoch ms of the request), got null in row 1"),
    ("now", "'request_ts' must be epoch ms (an integer), got 'now' in row 1"),
])
def test_sdk_reads_name_a_bad_request_ts_and_its_row(store: FeatureStore, value: Any, message: str) -> None:
    from feast_pinot.errors import RequestFieldError

    rows = [{"member_id": 1, "request_ts": NOW}, {"member_id": 2, "request_ts": value}]
    with pytest.raises(RequestFieldError) as err:
        store.get_online_features(features=["acts_win:a_count_1h"], entity_rows=rows)
    assert str(err.value) == message and err.value.http_status_code() == 422
