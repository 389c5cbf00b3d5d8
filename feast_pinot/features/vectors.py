"""The arithmetic the families share: cosines, decay weights, sums over index ranges.

Every function sums a row's terms in one fixed order that depends only on the
row's own values (never on how many rows share the call, nor on BLAS), so an
engine that hands the same actions gets the same bits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["cosines", "decay_weights", "range_sums", "row_cosines", "spans"]

# Rows per block: a few MB of temporaries stay in cache and are reused by malloc.
BLOCK = 16_384


def _norms(rows: np.ndarray) -> np.ndarray:
    return np.sqrt((rows * rows).sum(axis=-1))


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` (k, dim) and the same row of ``b``; 0 where either is zero."""
    dots = (a * b).sum(axis=1)
    norms = _norms(a) * _norms(b)
    return np.divide(dots, norms, out=np.zeros(len(a)), where=norms > 0)


def cosines(candidates: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine of each candidate row (k, dim) and each of ``vectors`` (m, dim): (k, m)."""
    dots = (candidates[:, None, :] * vectors[None, :, :]).sum(axis=2)
    norms = _norms(candidates)[:, None] * _norms(vectors)[None, :]
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def decay_weights(ts: np.ndarray, since: np.ndarray | int, half_life_ms: int) -> np.ndarray:
    """``2^(-(since - ts) / half_life)`` per action, float64."""
    return np.exp2(-(np.asarray(since, np.float64) - ts.astype(np.float64)) / half_life_ms)


def spans(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ranges ``[lo, hi)`` laid end to end: every index, and where each range begins (+ the end).

    A range with ``hi <= lo`` is empty.
    """
    lengths = np.maximum(hi - lo, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return np.arange(offsets[-1], dtype=np.int64) + np.repeat(lo - offsets[:-1], lengths), offsets


def range_sums(values: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
               width: int) -> np.ndarray:
    """Per range ``[lo, hi)``: the sum of ``values(indices, range_of_each)``, in ascending index order.

    ``values`` gives one row (``width`` wide, or a scalar when ``width`` is 0)
    per index of a block of ranges, so no more than a block of terms is ever
    held; an empty range sums to 0.
    """
    out = np.zeros((len(lo), width) if width else len(lo))
    lengths = np.maximum(hi - lo, 0)
    start = 0
    while start < len(lo):
        # as many ranges as fit in about a block of terms (at least one)
        stop = start + max(1, int(np.searchsorted(np.cumsum(lengths[start:]), BLOCK, side="right")))
        indices, offsets = spans(lo[start:stop], hi[start:stop])
        nonempty = np.flatnonzero(lengths[start:stop])
        if len(nonempty):
            which = np.repeat(np.arange(stop - start), lengths[start:stop])
            terms = values(indices, which + start)
            out[start + nonempty] = np.add.reduceat(terms, offsets[nonempty], axis=0)
        start = stop
    return out
