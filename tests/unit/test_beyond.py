"""Decayed, multi-interest and seen features of the ODFV body against tests/reference.py and hand-computed values."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from feast_pinot.specs import DecaySpec, InterestsSpec, SeenSpec, WindowedFeaturesSpec, WindowSpec
from feast_pinot.windows import windowed_features
from tests.reference import Act, Declared, assert_matches, history_order, reference

HOUR = 3_600_000
T = 1_767_571_200_000
DIM = 3
VERBS = ("job-apply", "job-dismiss")
INTEREST_VERBS = ("job-apply", "job-save")


def declared(k: int = 3, distance_threshold: float | None = None) -> Declared:
    return Declared(
        verbs=VERBS, dim=DIM, windows={"1h": HOUR}, half_lives={"1h": HOUR, "24h": 24 * HOUR},
        seen_windows={"24h": 24 * HOUR, "96h": 96 * HOUR}, interest_verbs=INTEREST_VERBS, k=k,
        interest_half_life_ms=24 * HOUR, distance_threshold=distance_threshold,
    )


def spec_of_declared(d: Declared) -> WindowedFeaturesSpec:
    """The product's spec for what ``d`` declares (the reference reads ``d`` itself)."""
    assert d.interest_verbs is not None
    return WindowedFeaturesSpec(
        view="v", history="h", verbs=d.verbs, embedding_dim=d.dim, candidate="jobs__embedding",
        windows=tuple(WindowSpec(label=n, length_ms=ms) for n, ms in d.windows.items()),
        decays=tuple(DecaySpec(label=n, half_life_ms=ms) for n, ms in d.half_lives.items()),
        interests=InterestsSpec(verbs=d.interest_verbs, k=d.k, half_life_ms=d.interest_half_life_ms,
                                distance_threshold=d.distance_threshold),
        seen=SeenSpec(windows=tuple(WindowSpec(label=n, length_ms=ms) for n, ms in d.seen_windows.items()),
                      candidate_key="job_id", object_prefix=d.object_prefix, key_is_int=d.key_is_int),
    )


X = (1.0, 0.0, 0.0)


def run(d: Declared, acts: Sequence[Act], now: int = T, candidate: Any = X, key: Any = 1) -> dict[str, Any]:
    """The ODFV body on one row whose history holds ``acts`` newest first (later ones included)."""
    history = history_order(acts, 2**62)
    flat = [x for a in history for x in (a.emb if a.emb is not None else [math.nan] * d.dim)]
    inputs: dict[str, list[Any]] = {"request_ts": [now], "h__action_ts": [[a.ts for a in history]],
              "h__action_verbs": [[a.verb for a in history]], "h__action_objects": [[a.obj for a in history]],
              "h__action_embeddings": [flat], "jobs__embedding": [candidate], "job_id": [key]}
    return {k: v[0] for k, v in windowed_features(inputs, spec_of_declared(d).model_dump_json()).items()}


def check(d: Declared, acts: Sequence[Act], now: int = T, candidate: Any = X, key: Any = 1) -> dict[str, Any]:
    """Runs the product, asserts it equals the reference on every output, returns the product's row."""
    got = run(d, acts, now, candidate, key)
    want = reference(d, acts, now, candidate, key)
    assert set(want) == {n for n in got if "__" not in n}
    assert_matches(got, want)
    return got


def act(i: int, ts: int, emb: Sequence[float] | None, verb: str = "job-apply", job: int = 1) -> Act:
    return Act(f"a{i:03d}", ts, verb, f"job:{job}", emb)


def test_two_actions_one_half_life_apart_by_hand() -> None:
    e1, e2 = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    got = check(declared(), [act(1, T, e1), act(2, T - HOUR, e2, job=2)])
    assert got["job_apply_decayed_count_1h"] == pytest.approx(1.5, abs=1e-12)
    assert got["job_apply_decayed_mean_emb_1h"] == pytest.approx([2 / 3, 1 / 3, 0.0], abs=1e-7)
    assert got["job_apply_decayed_sim_1h"] == pytest.approx(2 / math.sqrt(5), abs=1e-12)  # (2,1,0)·(1,0,0)/√5
    assert got["job_apply_decayed_count_24h"] == pytest.approx(1 + 2 ** (-1 / 24), abs=1e-12)
    assert got["job_apply_seen_count_24h"] == 1 and got["job_apply_seen_age_ms_24h"] == 0
    assert got["job_dismiss_seen_count_24h"] == 0 and got["job_dismiss_seen_age_ms_24h"] == -1


def test_empty_history_gives_documented_values() -> None:
    got = check(declared(), [])
    assert got["interest_clusters"] == 0 and got["interest_max_sim"] == 0.0 == got["interest_weighted_sim"]
    assert got["interest_medoid_emb_1"] == [0.0] * DIM and got["interest_importance_1"] == 0.0
    assert got["job_apply_decayed_count_1h"] == 0.0 and got["job_apply_decayed_mean_emb_1h"] == [0.0] * DIM
    assert got["job_apply_seen_count_96h"] == 0 and got["job_apply_seen_age_ms_96h"] == -1


def test_one_action_is_its_own_medoid() -> None:
    got = check(declared(k=3), [act(1, T - 2 * HOUR, (0.0, 3.0, 4.0))], candidate=(0.0, 0.0, 1.0))
    assert got["interest_clusters"] == 1
    assert got["interest_medoid_emb_1"] == [0.0, 3.0, 4.0]
    assert got["interest_importance_1"] == pytest.approx(2 ** (-2 / 24), abs=1e-12)
    assert got["interest_medoid_emb_2"] == [0.0] * DIM == got["interest_medoid_emb_3"]
    assert got["interest_max_sim"] == pytest.approx(0.8, abs=1e-12) == got["interest_weighted_sim"]
    assert got["job_apply_seen_age_ms_24h"] == 2 * HOUR


def test_k_larger_than_the_actions_pads_with_zeros() -> None:
    acts = [act(1, T - HOUR, (1.0, 0.0, 0.0)), act(2, T - 3 * HOUR, (0.0, 1.0, 0.0), verb="job-save")]
    got = check(declared(k=5), acts)
    assert got["interest_clusters"] == 2
    assert [got[f"interest_importance_{s}"] for s in (3, 4, 5)] == [0.0, 0.0, 0.0]
    assert got["interest_medoid_emb_1"] == [1.0, 0.0, 0.0]  # the newer action weighs more
    assert got["interest_medoid_emb_2"] == [0.0, 1.0, 0.0]


def test_identical_embeddings_make_one_interest_whose_medoid_is_the_newest() -> None:
    same = (0.5, 0.5, 0.0)
    acts = [act(i, T - i * HOUR, same, job=i) for i in range(1, 5)]
    got = check(declared(k=3), acts)
    assert got["interest_medoid_emb_1"] == [0.5, 0.5, 0.0]
    assert got["interest_importance_1"] + got["interest_importance_2"] == pytest.approx(
        sum(2 ** (-i / 24) for i in range(1, 5)), abs=1e-12)


def test_ties_in_time_follow_action_id_order() -> None:
    # Two clusters of equal importance (same times, mirrored embeddings): the one holding
    # the newest action in history order (lowest action_id at the newest ts) ranks first.
    acts = [act(2, T - HOUR, (1.0, 0.0, 0.0)), act(1, T - HOUR, (0.0, 1.0, 0.0)),
            act(3, T - 5 * HOUR, (1.0, 0.1, 0.0)), act(4, T - 5 * HOUR, (0.1, 1.0, 0.0))]
    got = check(declared(k=2), acts)
    assert got["interest_importance_1"] == got["interest_importance_2"]
    assert got["interest_medoid_emb_1"][1] > got["interest_medoid_emb_1"][0]  # a001's cluster first


def test_a_zero_or_missing_candidate_scores_zero() -> None:
    acts = [act(1, T - HOUR, (1.0, 2.0, 3.0))]
    for candidate in ((0.0, 0.0, 0.0), None, (1.0, 2.0)):
        got = check(declared(), acts, candidate=candidate)
        assert got["interest_max_sim"] == 0.0 == got["job_apply_decayed_sim_1h"] == got["interest_weighted_sim"]


def test_actions_after_request_time_are_left_out() -> None:
    acts = [act(1, T + 1, (0.0, 1.0, 0.0)), act(2, T - HOUR, (1.0, 0.0, 0.0))]
    got = check(declared(), acts)
    assert got["job_apply_decayed_count_1h"] == 0.5 and got["interest_clusters"] == 1
    assert got["job_apply_seen_age_ms_96h"] == HOUR and got["job_apply_seen_count_96h"] == 1


def test_an_action_without_embedding_is_counted_not_clustered() -> None:
    acts = [act(1, T, None), act(2, T - HOUR, (0.0, 1.0, 0.0), job=2)]
    got = check(declared(), acts)
    assert got["job_apply_decayed_count_1h"] == 1.5
    assert got["job_apply_decayed_mean_emb_1h"] == [0.0, 1.0, 0.0]
    assert got["interest_clusters"] == 1 and got["interest_importance_1"] == pytest.approx(2 ** (-1 / 24))
    assert got["job_apply_seen_count_24h"] == 1 and got["job_apply_seen_age_ms_24h"] == 0  # key 1, no embedding


def test_a_distance_threshold_can_cut_more_clusters_than_k() -> None:
    corners = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (-1.0, 0.0, 0.0)]
    acts = [act(i, T - i * HOUR, corners[i % 4]) for i in range(8)]
    got = check(declared(k=2, distance_threshold=0.5), acts)
    assert got["interest_clusters"] == 4
    assert got["interest_medoid_emb_1"] == [1.0, 0.0, 0.0] and got["interest_medoid_emb_2"] == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("key", [None, "1", 1.0, True, "job:1"])
def test_a_missing_or_malformed_candidate_key_matches_nothing(key: Any) -> None:
    got = check(declared(), [act(1, T - HOUR, (1.0, 0.0, 0.0))], key=key)
    assert got["job_apply_seen_count_96h"] == 0 and got["job_apply_seen_age_ms_96h"] == -1


def test_objects_of_another_prefix_or_malformed_are_never_seen() -> None:
    acts = [Act("a1", T - HOUR, "job-apply", "post:1", (1.0, 0.0, 0.0)), Act("a2", T - HOUR, "job-apply", None),
            Act("a3", T - 2 * HOUR, "job-dismiss", "job:x"), Act("a4", T - 3 * HOUR, "job-dismiss", "job:1")]
    got = check(declared(), acts)
    assert (got["job_apply_seen_count_96h"], got["job_dismiss_seen_count_96h"]) == (0, 1)
    assert got["job_dismiss_seen_age_ms_96h"] == 3 * HOUR


def test_two_interests_found_where_the_plain_mean_finds_neither() -> None:
    paintings, shoes = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    acts = [act(i, T - i * HOUR // 10, paintings if i % 2 else shoes, job=i) for i in range(1, 9)]
    for candidate in (paintings, shoes):
        got = check(declared(k=2), acts, candidate=candidate)
        assert got["interest_max_sim"] == pytest.approx(1.0, abs=1e-12)
        # the window's plain mean is about (1, 1, 0)/2: cosine 1/√2 to either interest
        assert got["job_apply_sim_1h"] == pytest.approx(1 / math.sqrt(2), abs=1e-12)
        assert got["interest_clusters"] == 2
    assert got["interest_weighted_sim"] == pytest.approx(
        got["interest_importance_2"] / (got["interest_importance_1"] + got["interest_importance_2"]), abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_random_histories_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([2, 5, 20, 60])
    centres = [np.array([rng.gauss(0, 1) for _ in range(DIM)]) for _ in range(3)]
    acts = [
        act(i, T - rng.randrange(0, 100 * HOUR, HOUR // 2) + rng.choice([0, 0, 2 * HOUR]),
            None if rng.random() < 0.1 else (centres[rng.randrange(3)] + rng.gauss(0, 0.1)).tolist(),
            verb=rng.choice(["job-apply", "job-save", "job-dismiss", "job-view"]), job=rng.randrange(4))
        for i in range(n)
    ]
    threshold = rng.choice([None, 0.5, 2.0])
    check(declared(k=rng.choice([1, 2, 5]), distance_threshold=threshold), acts,
          candidate=centres[0].tolist(), key=rng.randrange(4))
