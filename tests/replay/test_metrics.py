"""The replay's vectorised metrics against scikit-learn's, on data with ties and uneven weights."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import ndcg_score, roc_auc_score

from feast_pinot.replay import metrics
from feast_pinot.replay.metrics import Bootstrap


def _data(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.float64)
    scores = np.round(0.3 * labels + rng.random(n), 1)  # rounded: many ties
    weights = rng.integers(0, 4, size=(5, n)).astype(np.float64)
    return scores, labels, weights


def test_auc_equals_scikit_learn_with_ties_and_weights() -> None:
    scores, labels, weights = _data()
    got = metrics.auc(scores, labels, weights)
    expected = [roc_auc_score(labels, scores, sample_weight=w) for w in weights]
    assert got == pytest.approx(expected, abs=1e-12)


def test_auc_without_both_classes_is_nan() -> None:
    got = metrics.auc(np.array([0.1, 0.2]), np.array([1.0, 1.0]), np.ones((1, 2)))
    assert np.isnan(got[0])


def test_log_loss_equals_scikit_learn() -> None:
    _, labels, weights = _data()
    p = np.random.default_rng(4).uniform(0.01, 0.99, size=labels.size)
    got = metrics.log_loss(p, labels, weights)
    assert got == pytest.approx([sk_log_loss(labels, p, sample_weight=w) for w in weights], rel=1e-12)


def test_group_ndcg_keeps_groups_of_both_classes_only() -> None:
    scores = np.array([0.9, 0.1, 0.5, 0.4, 0.3, 0.8, 0.2])
    labels = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    groups = np.array(["a", "a", "b", "b", "c", "c", "d"])  # c: only positives; d: one row
    values, firsts = metrics.group_ndcg(scores, labels, groups, k=10)
    assert firsts.tolist() == [0, 2]
    assert values.tolist() == pytest.approx([ndcg_score([[0, 1]], [[0.9, 0.1]]), 1.0])
    assert values[0] == pytest.approx(1 / np.log2(3))  # the one relevant item ranked second


def test_bootstrap_draws_every_replicate_from_the_test_actors_with_a_fixed_seed() -> None:
    actors = np.array(["x", "y", "y", "z", "x", "w"])
    boot = Bootstrap.over(actors, replicates=50, seed=11)
    assert boot.counts.shape == (50, 4)
    assert (boot.counts.sum(axis=1) == 4).all()  # each replicate draws as many actors as there are
    assert boot.actor_of_row.tolist() == [1, 2, 2, 3, 1, 0]  # sorted actor codes: w x y z
    again = Bootstrap.over(actors, replicates=50, seed=11)
    assert np.array_equal(boot.counts, again.counts)
    weights = boot.row_weights(0, 50)
    assert np.array_equal(weights[:, 1], weights[:, 2])  # rows of one actor weigh alike


def test_replicated_ndcg_weighs_groups_by_their_actors_draws() -> None:
    boot = Bootstrap(actor_of_row=np.array([0, 0, 1, 1]), counts=np.array([[2.0, 0.0], [1.0, 1.0]]))
    per_group = np.array([0.5, 1.0])
    got = metrics.replicated_ndcg(boot, per_group, np.array([0, 2]))
    assert got.tolist() == pytest.approx([0.5, 0.75])
