"""The fast offline engine's decayed, seen and interest features equal the ODFV body on rebuilt histories.

Training data for views over a stored-embedding history is computed from the
sorted log (:mod:`feast_pinot.offline.decay`, ``.seen``, ``.interests``); here
every row is checked against :func:`feast_pinot.windows.windowed_features`
run on that row's history as :func:`get_historical_features` rebuilds it
(the generic path): within 1e-9, counts, ages and cluster counts exactly.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast import FeatureStore

from feast_pinot import Interests, action_history, action_log, windowed_action_features
from feast_pinot.offline.parts import resolve_path, write_action_parts
from feast_pinot.specs import HISTORY_FEATURES, WindowedFeaturesSpec, spec_of
from feast_pinot.windows import NO_SEEN_AGE, output_names, windowed_features
from tests.integration.mini_repo import YAML, jobs_entities

HOUR = 3_600_000
START = 1_767_571_200_000  # 2026-01-05T00:00Z
DIM = 3
VERBS = ("a", "b", "c", "d")
CAP = 8
JOBS = 12
SINGLE, TIED, CAPPED, IDLE = 201, 202, 203, 999  # one action; equal ts and embeddings; a cap cutting a tie; none
T_EDGE = START + 60 * HOUR
VIEWS = ("beyond", "threshold")


def _act(aid: str, member: int, verb: str, obj: str, ts: int, emb: list[float]) -> dict[str, Any]:
    return {"member_id": member, "action_id": aid, "verb": verb, "object": obj, "ts": ts, "embedding": emb}


def _random_actions(rng: np.random.Generator) -> list[dict[str, Any]]:
    centers = rng.normal(size=(3, DIM))
    out = []
    for i in range(700):
        job = int(rng.integers(0, JOBS))
        emb = (centers[job % 3] + 0.1 * rng.normal(size=DIM)) if i % 5 else centers[job % 3]  # some identical
        obj = f"job:{job}" if i % 17 else rng.choice(["job:07", "job:x", "other:3", "job:"])
        ts = START + int(rng.integers(0, 100 * HOUR)) // 60_000 * 60_000  # whole minutes: ties in time
        out.append(_act(f"r{i:04d}", int(rng.integers(1, 16)), str(rng.choice(VERBS)), obj, ts, emb.tolist()))
    return out


def _edge_actions() -> list[dict[str, Any]]:
    t = T_EDGE
    same = [0.5, -1.0, 2.0]
    tied = [_act(f"tie-{c}", TIED, v, f"job:{j}", t - HOUR, same)
            for c, v, j in (("b", "a", 1), ("a", "c", 1), ("c", "a", 2), ("d", "b", 1))]
    capped = [_act(f"cap-{i:02d}", CAPPED, ("a", "c", "b")[i % 3], f"job:{i % 4}", t - (i // 3) * HOUR,
                   [float(i % 4), 1.0, -float(i % 2)]) for i in range(13)]  # the cap of 8 falls inside a tie of 3
    return [_act("single", SINGLE, "a", "job:3", t - 2 * HOUR, [1.0, 0.0, 0.0]), *tied, *capped]


def _table(actions: list[dict[str, Any]]) -> pa.Table:
    return pa.table({
        "member_id": [a["member_id"] for a in actions],
        "action_id": [a["action_id"] for a in actions],
        "verb": [a["verb"] for a in actions],
        "object": [a["object"] for a in actions],
        "attributes": ["{}"] * len(actions),
        "event_timestamp": pa.array([a["ts"] for a in actions], pa.timestamp("ms", tz="UTC")),
        "embedding": pa.array([a["embedding"] for a in actions], pa.list_(pa.float32())),
    })


def _repo(root: Path, actions: list[dict[str, Any]]) -> FeatureStore:
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text(YAML)
    rng = np.random.default_rng(8)
    pd.DataFrame({
        "job_id": np.arange(JOBS, dtype=np.int64),
        "embedding": [rng.normal(size=DIM).astype(np.float32).tolist() for _ in range(JOBS)],
        "event_timestamp": pd.Timestamp(START - HOUR, unit="ms", tz="UTC"),
    }).to_parquet(root / "data" / "jobs.parquet", index=False)
    member, job, jobs = jobs_entities()
    log = action_log("acts", member, VERBS, "data/acts", embedding_dim=DIM, retention=timedelta(hours=48),
                     max_actions=50)
    history = action_history("acts_hist", log, max_actions=CAP)
    beyond = windowed_action_features(
        "beyond", history, {"1h": timedelta(hours=1)}, verbs=("b", "a"), candidate=jobs[["embedding"]],
        half_lives={"1h": timedelta(hours=1), "6h": timedelta(hours=6)},
        interests=Interests(k=3, half_life=timedelta(hours=2), verbs=("a", "c")),  # "c" is no windowed verb
        seen_windows={"2h": timedelta(hours=2), "48h": timedelta(hours=48)}, object_prefix="job:",
    )
    threshold = windowed_action_features(  # no candidate: every similarity is 0
        "threshold", history, verbs=("c", "a"), half_lives={"3h": timedelta(hours=3)},
        interests=Interests(k=2, half_life=timedelta(hours=5), distance_threshold=0.5, prefix="thr"),
    )
    store = FeatureStore(repo_path=str(root))
    store.apply([member, job, jobs, log, history, beyond, threshold])
    spec = spec_of(log)
    assert spec is not None
    half = len(actions) // 2
    for part in (actions[:half], actions[half:]):  # two writes: a duplicate id keeps its first copy
        write_action_parts(resolve_path(str(root), spec.path), _table(part), spec)  # type: ignore[arg-type]
    return store


def _entities(rng: np.random.Generator) -> pd.DataFrame:
    n = 160
    t = START + rng.integers(2, 110, n) * HOUR + rng.integers(0, 3, n) * 60_000
    rows = pd.DataFrame({
        "member_id": rng.integers(1, 16, n),
        "job_id": pd.array(rng.integers(0, JOBS, n), dtype="Int64"),
        "t": t,
        "request_ts": t - rng.choice([0, 0, 0, HOUR, 3 * HOUR, 200 * HOUR], n),  # some before the whole log
    })
    edges = pd.DataFrame({
        "member_id": [SINGLE, SINGLE, TIED, TIED, TIED, CAPPED, CAPPED, CAPPED, IDLE, 3, 3],
        "job_id": pd.array([3, None, 1, 2, 1, 0, 1, None, 5, 7, 7], dtype="Int64"),
        "t": [T_EDGE] * 9 + [T_EDGE, T_EDGE + HOUR],
        "request_ts": [T_EDGE, T_EDGE, T_EDGE, T_EDGE, T_EDGE - HOUR - 1, T_EDGE, T_EDGE, T_EDGE + 2 * HOUR,
                       T_EDGE, T_EDGE, T_EDGE],
    })
    rows = pd.concat([rows, edges, rows.iloc[:20]], ignore_index=True)  # groups of several candidates
    return rows.assign(event_timestamp=pd.to_datetime(rows.pop("t"), unit="ms", utc=True))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureStore, pd.DataFrame, list[dict[str, Any]]]:
    rng = np.random.default_rng(4)
    actions = [*_random_actions(rng), *_edge_actions()]
    actions.append({**actions[3], "member_id": 9, "ts": actions[3]["ts"] + HOUR})  # a later copy of an id
    rng.shuffle(actions)  # type: ignore[arg-type]
    store = _repo(tmp_path_factory.mktemp("beyond") / "repo", actions)
    return store, _entities(rng), actions


def _generic(store: FeatureStore, entities: pd.DataFrame, view: str) -> dict[str, list[Any]]:
    """The ODFV body on each row's rebuilt history, its candidate and its key."""
    spec = _spec(store, view)
    refs = [f"acts_hist:{f}" for f in HISTORY_FEATURES] + ["job_attributes:embedding"]
    inputs = store.get_historical_features(entity_df=entities, features=refs, full_feature_names=True).to_df()
    columns = {c: inputs[c].tolist() for c in inputs.columns}
    columns["job_attributes__embedding"] = [None if v is None or np.ndim(v) == 0 else list(v)
                                            for v in columns["job_attributes__embedding"]]
    columns["job_id"] = [None if pd.isna(v) else int(v) for v in entities["job_id"]]
    return windowed_features(columns, spec.model_dump_json())


@pytest.mark.parametrize("view", VIEWS)
def test_fast_engine_equals_the_odfv_on_rebuilt_histories(built: tuple[FeatureStore, pd.DataFrame, Any],
                                                           view: str) -> None:
    store, entities, _ = built
    names = output_names(_spec(store, view))
    fast = store.get_historical_features(entity_df=entities, features=[f"{view}:{n}" for n in names]).to_df()
    want = _generic(store, entities, view)
    assert len(fast) == len(entities)
    for name, output in names.items():
        got = fast[name].tolist()
        if output.value == "vector":
            np.testing.assert_allclose(np.array([list(v) for v in got]), np.array(want[name]), rtol=0, atol=1e-9,
                                       err_msg=name)
        elif output.value == "float":
            np.testing.assert_allclose(np.array(got, float), np.array(want[name]), rtol=0, atol=1e-9, err_msg=name)
        else:
            assert [int(v) for v in got] == want[name], name


def test_views_of_one_history_in_one_call_equal_each_alone(built: tuple[FeatureStore, pd.DataFrame, Any]) -> None:
    """One read of the log serves both views (other verbs, one with seen features): the same values."""
    store, entities, _ = built
    refs = {view: [f"{view}:{n}" for n in output_names(_spec(store, view))] for view in VIEWS}
    both = store.get_historical_features(entity_df=entities, features=[r for v in VIEWS for r in refs[v]],
                                         full_feature_names=True).to_df()
    for view in VIEWS:
        alone = store.get_historical_features(entity_df=entities, features=refs[view],
                                              full_feature_names=True).to_df()
        names = [r.replace(":", "__") for r in refs[view]]
        pd.testing.assert_frame_equal(both[names], alone[names])


def _spec(store: FeatureStore, view: str) -> WindowedFeaturesSpec:
    spec = spec_of(store.get_on_demand_feature_view(view), WindowedFeaturesSpec)
    assert spec is not None
    return spec


def test_the_edges_are_covered(built: tuple[FeatureStore, pd.DataFrame, list[dict[str, Any]]]) -> None:
    """The fixture's rows do reach every edge the comparison is meant to cover."""
    store, entities, _ = built
    fast = store.get_historical_features(entity_df=entities, features=[
        "beyond:interest_clusters", "beyond:a_seen_count_48h", "beyond:a_seen_age_ms_48h",
        "beyond:a_decayed_count_1h", "beyond:interest_importance_3", "beyond:interest_max_sim",
    ]).to_df()
    clusters = fast["interest_clusters"].to_numpy()
    assert {0, 1, 2, 3} <= set(clusters.tolist()), "no interests, one, fewer than k, k"
    assert (fast["a_seen_count_48h"] > 1).any() and (fast["a_seen_age_ms_48h"] == NO_SEEN_AGE).any()
    edge = fast.iloc[160:171].reset_index(drop=True)
    assert edge["interest_clusters"].tolist()[:2] == [1, 1]  # the single action, candidate key or none
    assert edge["a_seen_count_48h"].tolist()[:2] == [1, 0]  # a missing candidate key matches nothing
    assert edge["a_seen_age_ms_48h"].tolist()[:2] == [2 * HOUR, NO_SEEN_AGE]
    assert edge["interest_clusters"][8] == 0 and edge["a_decayed_count_1h"][8] == 0.0  # no actions
    assert edge["interest_max_sim"][8] == 0.0
