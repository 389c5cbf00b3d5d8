"""Multi-interest medoids per group of entity rows, straight from the sorted log.

A group's (rows sharing actor, time ``t`` and ``request_ts`` ``R``) interest
actions are the actions of :attr:`InterestsSpec.verbs` in its history range
``[start, end)`` (cap and retention as of ``t``, ending at ``R``; see
:mod:`feast_pinot.offline.windows`), every one with an embedding (the log
stores finite ones only), in history order: newest first, ties by ascending
``action_id`` - the sorted log's order reversed. They go to
:func:`feast_pinot.interests.member_interests`, the function the online path
calls, so the clusters, medoids and tie-breaks are the same. Groups without
interest actions share one empty result and never reach the clustering.
"""

from __future__ import annotations

import numpy as np

from feast_pinot.interests import MemberInterests, member_interests
from feast_pinot.specs import InterestsSpec

__all__ = ["group_interests"]


def group_interests(spec: InterestsSpec, ts: np.ndarray, embeddings: np.ndarray,
                    lo: np.ndarray, hi: np.ndarray, now: np.ndarray) -> list[MemberInterests]:
    """Every group's interests.

    ``ts`` (n,) and ``embeddings`` (n, dim) float32: the interest verbs'
    actions in log order; ``lo``/``hi`` each group's range in them
    (``hi <= lo``: empty), ``now`` each group's ``request_ts``.
    """
    empty = member_interests(spec, ts[:0], np.zeros((0, embeddings.shape[1])), 0)
    out = []
    for first, end, at in zip(lo.tolist(), hi.tolist(), now.tolist()):
        if end <= first:
            out.append(empty)
            continue
        # reversed: history order, on which member_interests' tie-breaks depend
        out.append(member_interests(spec, ts[first:end][::-1], embeddings[first:end][::-1].astype(np.float64), at))
    return out
