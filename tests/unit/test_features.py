"""The arithmetic under every feature family: exact against plain per-run loops."""

from __future__ import annotations

import bisect

import numpy as np
import pytest

from feast_pinot.features import Actions, Embeddings, Rows, compute
from feast_pinot.features.base import bisect_right
from feast_pinot.features.histories import history_groups
from feast_pinot.features.vectors import range_sums, run_cumsums
from feast_pinot.specs import WindowedFeaturesSpec, WindowSpec

HOUR = 3_600_000


def _runs(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = rng.choice([1, 2, 3, 7, 64, 65, 300], size=count)
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64), lengths.astype(np.int64)


def test_run_cumsums_are_each_runs_own_running_sum_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    starts, lengths = _runs(rng, 200)
    values = rng.normal(size=(int(lengths.sum()), 5)) * 10.0 ** rng.integers(-3, 30, size=(int(lengths.sum()), 1))
    want = np.concatenate([np.cumsum(values[s:s + n], axis=0) for s, n in zip(starts, lengths)])
    run_cumsums(values, starts, lengths)
    assert np.array_equal(values, want)


def test_bisect_right_searches_each_run_on_its_own() -> None:
    rng = np.random.default_rng(2)
    starts, lengths = _runs(rng, 100)
    ts = np.concatenate([np.sort(rng.integers(0, 50, n)) for n in lengths])
    queries = rng.integers(-5, 55, 100)
    found = bisect_right(ts, starts, starts + lengths, queries)
    want = [s + bisect.bisect_right(ts[s:s + n].tolist(), q) for s, n, q in zip(starts, lengths, queries)]
    assert found.tolist() == want


def test_range_sums_of_empty_and_long_ranges() -> None:
    values = np.arange(100_000, dtype=np.float64)
    lo, hi = np.array([5, 7, 0, 99_000]), np.array([5, 3, 40_000, 100_000])
    sums = range_sums(lambda i, _: values[i], lo, hi, 0)
    assert sums.tolist() == [0.0, 0.0, float(sum(range(40_000))), float(sum(range(99_000, 100_000)))]


@pytest.mark.parametrize("huge", [3e38, 1e30, 1e10])
def test_window_means_stay_exact_next_to_huge_values_of_the_same_actor(huge: float) -> None:
    """Many actors, each with one huge old value among ordinary ones: every window mean as summed directly."""
    rng = np.random.default_rng(3)
    windows = (WindowSpec(label="1h", length_ms=HOUR), WindowSpec(label="9h", length_ms=9 * HOUR))
    spec = WindowedFeaturesSpec(view="v", history="h", verbs=("a",), embedding_dim=3, windows=windows)
    per_actor, actors, now = 40, 30, 10 * HOUR
    actor = np.repeat(np.arange(actors), per_actor)
    ts = np.concatenate([np.sort(rng.integers(0, now, per_actor)) for _ in range(actors)])
    stored = rng.normal(size=(len(ts), 3)).astype(np.float32)
    stored[::per_actor] = np.float32(huge)  # each actor's oldest action
    actions = Actions(actor, ts, np.ones(len(ts), np.int64), Embeddings(stored, np.arange(len(ts))))
    groups = history_groups(actions, np.arange(actors), np.full(actors, now))
    computed = compute(spec, actions, groups, Rows(np.arange(actors)), ["a_mean_emb_1h", "a_mean_emb_9h"])
    for name, length in (("a_mean_emb_1h", HOUR), ("a_mean_emb_9h", 9 * HOUR)):
        for c in range(actors):
            mine = (actor == c) & (ts > now - length) & (ts <= now)
            want = stored[mine].astype(np.float64).mean(axis=0) if mine.any() else np.zeros(3)
            np.testing.assert_allclose(computed.values[name][c], want, rtol=1e-9, atol=1e-9, err_msg=f"{name} {c}")
