"""AUC, log loss and NDCG@k with bootstrap intervals over actors.

A bootstrap replicate draws the test set's actors with replacement and weighs
each row by how often its actor was drawn, so every metric of every delay and
feature set is computed on the same replicates: the difference of two of them
has a paired interval too. The point estimate is the plain metric (every
weight 1).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["Bootstrap", "Estimate", "auc", "group_ndcg", "log_loss", "replicated", "replicated_ndcg"]

_EPS = 1e-15
_CHUNK = 64  # replicates per block: B x rows weights stay a few tens of MB


@dataclass(frozen=True)
class Estimate:
    """A metric with its 95 % percentile bootstrap interval."""

    value: float
    low: float
    high: float

    def as_text(self, digits: int = 4) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class Bootstrap:
    """Actor-level resampling of a test set: ``counts[b, a]`` = draws of actor ``a`` in replicate ``b``."""

    actor_of_row: np.ndarray  # codes 0..A-1
    counts: np.ndarray  # B x A

    @staticmethod
    def over(actors: np.ndarray, replicates: int, seed: int) -> Bootstrap:
        _, codes = np.unique(actors, return_inverse=True)
        n_actors = int(codes.max()) + 1
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, n_actors, size=(replicates, n_actors))
        counts = np.stack([np.bincount(d, minlength=n_actors) for d in draws]).astype(np.float64)
        return Bootstrap(codes, counts)

    def estimate(self, replicated: np.ndarray, value: float) -> Estimate:
        finite = replicated[np.isfinite(replicated)]
        low, high = np.percentile(finite, [2.5, 97.5]) if finite.size else (np.nan, np.nan)
        return Estimate(float(value), float(low), float(high))

    def row_weights(self, start: int, stop: int) -> np.ndarray:
        return self.counts[start:stop][:, self.actor_of_row]


def auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC per row of ``weights`` (B x n); ties count one half. NaN without both classes."""
    order = np.argsort(scores, kind="stable")
    sorted_scores, y = scores[order], labels[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * (1.0 - y), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / total, np.nan)


def log_loss(probabilities: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean log loss per row of ``weights``."""
    p = np.clip(probabilities, _EPS, 1 - _EPS)
    per_row = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    return (weights @ per_row) / weights.sum(axis=1)


def group_ndcg(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """NDCG@k of each candidate group holding both classes, and the index of a row of each group.

    Within a group rows are ranked by score (ties averaged, as scikit-learn's
    ``ndcg_score`` does); groups of one class are left out, no order can change them.
    """
    from sklearn.metrics import ndcg_score

    values, firsts = [], []
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    for start, stop in itertools.pairwise(bounds):
        rows = order[start:stop]
        y = labels[rows]
        if y.min() == y.max():
            continue
        values.append(ndcg_score([y], [scores[rows]], k=k))
        firsts.append(rows[0])
    return np.asarray(values, dtype=np.float64), np.asarray(firsts, dtype=np.int64)


def replicated(boot: Bootstrap, metric: str, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The metric (``auc`` or ``log_loss``) of every replicate, computed in blocks."""
    compute = auc if metric == "auc" else log_loss
    blocks = [compute(scores, labels, boot.row_weights(b, b + _CHUNK))
              for b in range(0, len(boot.counts), _CHUNK)]
    return np.concatenate(blocks)


def replicated_ndcg(boot: Bootstrap, per_group: np.ndarray, first_rows: np.ndarray) -> np.ndarray:
    """Mean group NDCG of every replicate (a group weighs as often as its actor was drawn)."""
    weights = boot.counts[:, boot.actor_of_row[first_rows]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ per_group) / weights.sum(axis=1)
