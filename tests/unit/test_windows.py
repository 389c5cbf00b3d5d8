"""Windowed features from a history, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feast_pinot.errors import FeastPinotError
from feast_pinot.specs import WindowedFeaturesSpec, WindowSpec
from feast_pinot.windows import output_names, verb_slug, windowed_features

SPEC = WindowedFeaturesSpec(
    view="w", history="h", verbs=("job-apply", "job-dismiss"),
    windows=(WindowSpec(label="10s", length_ms=10_000), WindowSpec(label="1m", length_ms=60_000)),
    embedding_dim=2, candidate="job_attributes__embedding",
)


def run(ts: list, verbs: list, flat: list, now: int, candidate: list | None = (1.0, 0.0)) -> dict:
    inputs = {"request_ts": [now], "h__action_ts": [ts], "h__action_verbs": [verbs],
              "h__action_embeddings": [flat], "job_attributes__embedding": [candidate]}
    return {k: v[0] for k, v in windowed_features(inputs, SPEC.model_dump_json()).items()}


def test_counts_means_and_similarity() -> None:
    now = 100_000
    out = run(
        ts=[100_000, 95_000, 90_000, 50_000],
        verbs=["job-apply", "job-apply", "job-apply", "job-dismiss"],
        flat=[1.0, 1.0, 3.0, -1.0, 9.0, 9.0, 0.0, 2.0],
        now=now,
    )
    # 10s window is (90_000, 100_000]: the action at exactly 90_000 is out
    assert out["job_apply_count_10s"] == 2
    assert out["job_apply_mean_emb_10s"] == [2.0, 0.0]
    assert out["job_apply_sim_10s"] == 1.0
    assert out["job_apply_count_1m"] == 3
    assert out["job_apply_mean_emb_1m"] == pytest.approx([13 / 3, 3.0])
    assert out["job_apply_sim_1m"] == pytest.approx((13 / 3) / math.hypot(13 / 3, 3.0))
    assert out["job_dismiss_count_10s"] == 0
    assert out["job_dismiss_mean_emb_10s"] == [0.0, 0.0]
    assert out["job_dismiss_sim_10s"] == 0.0
    assert out["job_dismiss_count_1m"] == 1  # 50_000 > 100_000 - 60_000
    assert out["job_dismiss_sim_1m"] == 0.0  # orthogonal to the candidate


def test_future_actions_are_not_counted() -> None:
    out = run(ts=[100_001, 99_000], verbs=["job-apply", "job-apply"], flat=[5.0, 5.0, 1.0, 1.0], now=100_000)
    assert out["job_apply_count_1m"] == 1
    assert out["job_apply_mean_emb_1m"] == [1.0, 1.0]


def test_empty_and_missing_history_give_documented_values() -> None:
    for ts, verbs, flat in (([], [], []), (None, None, None)):
        out = run(ts=ts, verbs=verbs, flat=flat, now=5)
        assert out["job_apply_count_1m"] == 0
        assert out["job_apply_mean_emb_1m"] == [0.0, 0.0]
        assert out["job_apply_sim_1m"] == 0.0


def test_missing_or_malformed_candidate_gives_zero_similarity() -> None:
    for candidate in (None, [1.0, 2.0, 3.0], [0.0, 0.0]):
        out = run(ts=[10], verbs=["job-apply"], flat=[1.0, 0.0], now=10, candidate=candidate)
        assert out["job_apply_sim_1m"] == 0.0
        assert out["job_apply_count_1m"] == 1


def test_actions_without_embedding_are_counted_not_averaged() -> None:
    out = run(ts=[10, 9], verbs=["job-apply", "job-apply"], flat=[float("nan")] * 2 + [2.0, 4.0], now=10)
    assert out["job_apply_count_1m"] == 2
    assert out["job_apply_mean_emb_1m"] == [2.0, 4.0]


def test_wrong_embedding_size_is_an_error() -> None:
    with pytest.raises(FeastPinotError, match="history 'h' gave 3 embedding values for 2 actions of dimension 2"):
        run(ts=[1, 2], verbs=["job-apply", "job-view"], flat=[1.0, 2.0, 3.0], now=10)


def test_feast_inference_sample_is_accepted() -> None:
    # feast apply calls the UDF with one-element samples of each input type
    out = run(ts=[1], verbs=["hello world"], flat=[1.0], now=1, candidate=[1.0])
    assert out["job_apply_count_1m"] == 0 and out["job_apply_sim_1m"] == 0.0


def test_missing_request_time_is_an_error() -> None:
    with pytest.raises(FeastPinotError, match="'request_ts' is required"):
        run(ts=[], verbs=[], flat=[], now=None)  # type: ignore[arg-type]


def test_outputs_under_short_and_full_names() -> None:
    inputs = {"request_ts": [1, 2], "h__action_ts": [[], [2]], "h__action_verbs": [[], ["job-apply"]],
              "h__action_embeddings": [[], [0.0, 1.0]], "job_attributes__embedding": [None, None]}
    out = windowed_features(inputs, SPEC.model_dump_json())
    assert out["job_apply_count_10s"] == [0, 1]
    assert out["w__job_apply_count_10s"] is out["job_apply_count_10s"]
    assert set(output_names(SPEC)) == {f"{verb_slug(v)}_{k}_{w}" for v in SPEC.verbs
                                       for k in ("count", "mean_emb", "sim") for w in ("10s", "1m")}


def test_counts_only_without_embeddings() -> None:
    spec = SPEC.model_copy(update={"embedding_dim": 0, "candidate": None})
    assert set(output_names(spec)) == {"job_apply_count_10s", "job_apply_count_1m",
                                       "job_dismiss_count_10s", "job_dismiss_count_1m"}
    inputs = {"request_ts": [10], "h__action_ts": [[10, 5]], "h__action_verbs": [["job-apply", "job-dismiss"]]}
    out = windowed_features(inputs, spec.model_dump_json())
    assert out["job_apply_count_1m"] == [1] and out["job_dismiss_count_10s"] == [1]


def test_mean_is_exact_float32_of_the_float64_mean() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, 2)).astype(np.float32)
    out = run(ts=[10] * 5, verbs=["job-apply"] * 5, flat=emb.ravel().tolist(), now=10)
    assert out["job_apply_mean_emb_1m"] == emb.astype(np.float64).mean(axis=0).astype(np.float32).tolist()


def test_embeddings_as_float32_bytes() -> None:
    flat = np.array([1.0, 1.0, 3.0, -1.0], dtype="<f4").tobytes()
    out = run(ts=[10, 9], verbs=["job-apply", "job-apply"], flat=flat, now=10)  # type: ignore[arg-type]
    assert out["job_apply_mean_emb_1m"] == [2.0, 0.0]
    with pytest.raises(FeastPinotError, match="gave an odd number of bytes for 2 actions"):
        run(ts=[10, 9], verbs=["job-apply", "job-apply"], flat=flat[:-1], now=10)  # type: ignore[arg-type]



def test_a_request_ts_column_offline_follows_the_online_rule() -> None:
    import pandas as pd

    from feast_pinot.errors import RequestFieldError
    from feast_pinot.offline.plan import EntityPlan

    now = 1_767_571_200_000
    at = pd.Timestamp(now, unit="ms", tz="UTC")

    def plan(request_ts: list[int]) -> EntityPlan:
        return EntityPlan.of(pd.DataFrame({"event_timestamp": [at] * len(request_ts), "request_ts": request_ts}))

    assert plan([now, now - 5]).request_ts("request_ts", "w").tolist() == [now, now - 5]
    for bad, row, said in ((now // 1000, 2, "seconds?"), (now * 1000, 1, "microseconds?")):
        with pytest.raises(RequestFieldError, match=rf"^'request_ts' must be epoch milliseconds .* got {bad} "
                                                    rf"\(.*{said} .*\) in row {row}$"):
            plan([*[now, now + 1, now][:row], bad, now]).request_ts("request_ts", "w")
