"""The arithmetic the families share: cosines, decay weights, sums over index ranges.

Every function sums a row's terms in one fixed order that depends only on the
row's own values (never on how many rows share the call, nor on BLAS), so an
engine that hands the same actions gets the same bits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["cosines", "decay_weights", "norms", "range_sums", "row_cosines", "run_cumsums", "spans"]

# Rows per block: a few MB of temporaries stay in cache and are reused by malloc.
BLOCK = 16_384
_FEW_RUNS = 8  # run_cumsums: below this many runs, one cumsum each costs less than padding them


def norms(rows: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row."""
    return np.sqrt(np.einsum("ij,ij->i", rows, rows))


def row_cosines(a: np.ndarray, b: np.ndarray, a_norms: np.ndarray, b_norms: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` (k, dim) and the same row of ``b``, given their norms; 0 where either is zero."""
    dots = np.einsum("ij,ij->i", a, b)
    both = a_norms * b_norms
    return np.divide(dots, both, out=np.zeros(len(a)), where=both > 0)


def cosines(candidates: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine of each candidate row (k, dim) and each of ``vectors`` (m, dim): (k, m)."""
    dots = np.einsum("ij,mj->im", candidates, vectors, optimize=False)
    both = norms(candidates)[:, None] * norms(vectors)[None, :]
    return np.divide(dots, both, out=np.zeros_like(dots), where=both > 0)


def decay_weights(ts: np.ndarray, since: np.ndarray | int, half_life_ms: int) -> np.ndarray:
    """``2^(-(since - ts) / half_life)`` per action, float64."""
    return np.exp2(-(np.asarray(since, np.float64) - ts.astype(np.float64)) / half_life_ms)


def run_cumsums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
    """In place: running sums down ``values`` (n, dim) that restart at every run ``[start, start + length)``.

    The runs must tile ``values``. Runs of similar length are padded to one
    power of two and summed together along that axis, so the arithmetic is
    each run's own running sum, term by term, whatever the other runs hold,
    in a few numpy calls instead of one per run.
    """
    if len(starts) <= _FEW_RUNS:  # a member's history: its runs as they are
        for start, length in zip(starts.tolist(), lengths.tolist()):
            np.cumsum(values[start:start + length], axis=0, out=values[start:start + length])
        return
    padded_length = np.left_shift(1, np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64))
    for length in np.unique(padded_length[lengths > 1]).tolist():
        runs = np.flatnonzero((padded_length == length) & (lengths > 1))
        per_chunk = max(1, (BLOCK * 8) // (length * max(values.shape[1], 1)))
        steps = np.arange(length)
        for chunk in range(0, len(runs), per_chunk):
            picked = runs[chunk:chunk + per_chunk]
            valid = steps[None, :] < lengths[picked][:, None]
            rows = (starts[picked][:, None] + steps[None, :])[valid]
            block = np.zeros((len(picked), length, values.shape[1]))
            block[valid] = values[rows]
            np.cumsum(block, axis=1, out=block)
            values[rows] = block[valid]


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
