"""The vector arithmetic every request-time feature shares: cosines and decay weights."""

from __future__ import annotations

import numpy as np

__all__ = ["cosines", "decay_weights"]


def cosines(candidates: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Cosine of each candidate row (k, dim) and each row of ``means``: (k, means); 0 where either is zero.

    One product for all candidates, summed along the embedding per element, so a
    row's values do not depend on how many candidates share the call (a BLAS
    product's rounding does).
    """
    dots = (candidates[:, None, :] * means[None, :, :]).sum(axis=2)
    norms = _norms(candidates)[:, None] * _norms(means)[None, :]
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def _norms(rows: np.ndarray) -> np.ndarray:
    return np.sqrt((rows * rows).sum(axis=1))


def decay_weights(ts: np.ndarray, now: int, half_life_ms: int) -> np.ndarray:
    """``2^(-(now - ts) / half_life)`` per action, float64."""
    return np.exp2(-(now - ts.astype(np.float64)) / half_life_ms)
