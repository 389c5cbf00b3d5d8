"""Time-decayed counts and means per group of entity rows, straight from the sorted log.

For one verb, a group (the rows sharing actor, time ``t`` and ``request_ts``
``R``) covers the verb's actions ``[lo, hi)`` of its history range (cap and
retention as of ``t``, ending at ``R``; see :mod:`feast_pinot.offline.windows`).
Per half-life ``h``, as :mod:`feast_pinot.windows` defines them:

* the decayed count is ``sum(2^(-(R - ts) / h))``;
* the decayed mean is ``sum(w * e) / sum(w)`` with ``w = 2^(-(newest - ts) / h)``,
  ``newest`` the newest action of the range: the same mean as with weights
  relative to ``R``, and it exists however old the actions are. Every stored
  embedding is finite (the log refuses others), so every action has one.

The weights of all groups are one sparse matrix (groups x the verb's actions)
per half-life, and the means one sparse product with the stored embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

__all__ = ["Decayed", "decayed"]


@dataclass(frozen=True)
class Decayed:
    """One (verb, half-life): per group, the decayed count and (with embeddings) the decayed mean."""

    counts: np.ndarray  # (groups,) float64
    means: np.ndarray | None  # (groups, dim) float64; zero rows for empty ranges


def decayed(ts: np.ndarray, lo: np.ndarray, hi: np.ndarray, now: np.ndarray, half_lives: list[int],
            embeddings: np.ndarray | None) -> list[Decayed]:
    """Per half-life, the decayed features of every group.

    ``ts`` (n,) the verb's actions in log order (ascending ts within an actor),
    ``lo``/``hi`` each group's range in them (``hi <= lo``: empty), ``now``
    each group's ``request_ts``, ``embeddings`` (n, dim) float32 or None.
    """
    lengths = np.maximum(hi - lo, 0)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    # each group's slice of the verb's actions, laid end to end
    indices = np.arange(indptr[-1]) + np.repeat(lo - indptr[:-1], lengths)
    picked = ts[indices]
    # the newest action of a range is its last: the log is ascending in ts within an actor
    newest = np.repeat(ts[np.maximum(hi - 1, 0)] if len(ts) else lo, lengths)
    at_request = np.repeat(now, lengths)

    def weights(since: np.ndarray, half_life: int) -> sparse.csr_matrix:
        # decay_weights' rule, 2^(-(since - ts) / h), with one ``since`` per action
        values = np.exp2(-(since - picked).astype(np.float64) / half_life)
        return sparse.csr_matrix((values, indices, indptr), shape=(len(lo), len(ts)))

    out = []
    for half_life in half_lives:
        counts = np.asarray(weights(at_request, half_life).sum(axis=1)).ravel()
        means = None
        if embeddings is not None:
            relative = weights(newest, half_life)
            total = np.asarray(relative.sum(axis=1))
            means = np.divide(relative @ embeddings, total, out=np.zeros((len(lo), embeddings.shape[1])),
                              where=total > 0)
        out.append(Decayed(counts, means))
    return out
