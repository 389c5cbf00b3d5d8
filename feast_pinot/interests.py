"""Several interests per member: Ward clusters of recent embeddings and their medoids.

A plain mean of a member's embeddings lands between their interests
(PinnerSage: "paintings and shoes average to a salad"). Here, at request time
``t``, over the history's actions of the declared verbs that have an embedding
and ``ts <= t``, taken in history order (newest first, ties by ascending
``action_id``):

1. Ward agglomerative clustering (``scipy.cluster.hierarchy.linkage``) of
   the embeddings, cut at ``distance_threshold`` (criterion ``distance``) or
   into at most ``k`` clusters (criterion ``maxclust``);
2. a cluster's importance is the sum of its actions' decayed weights
   ``2^(-(t - ts) / half_life)``, summed in history order;
3. its medoid is the action nearest (Euclidean) the cluster's centroid, an
   actual action's embedding;
4. clusters are ranked by importance, the ``k`` most important kept.

Ties are broken by history order, so the online and the offline paths, which
both call :func:`member_interests` with the actions in that order, pick the
same medoids: among actions equally near a centroid the newest is the medoid;
among clusters of equal importance the one holding the newest action ranks
first. scipy's linkage is deterministic for a given input order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from feast_pinot.specs import InterestsSpec
from feast_pinot.vectors import cosines, decay_weights

__all__ = ["MemberInterests", "member_interests"]


@dataclass(frozen=True)
class MemberInterests:
    """The ``k`` most important clusters of one (actor, request time), zero-padded."""

    medoids: np.ndarray  # (k, dim) float64: actual action embeddings; zero rows past ``found``
    importances: np.ndarray  # (k,) float64, descending; 0 past ``found``
    clusters: int  # clusters the cut produced (may exceed k with a distance threshold)

    @property
    def found(self) -> int:
        """Slots holding a medoid."""
        return min(self.clusters, len(self.importances))

    def similarities(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate row: the best cosine to any kept medoid, and their importance-weighted mean.

        0 without medoids or for a zero candidate.
        """
        found = self.found
        if found == 0:
            zeros = np.zeros(len(candidates))
            return zeros, zeros.copy()
        cos = cosines(candidates, self.medoids[:found])
        weights = self.importances[:found]
        total = weights.sum()
        weighted = (cos * weights[None, :]).sum(axis=1) / total if total > 0 else np.zeros(len(candidates))
        return cos.max(axis=1), weighted


def member_interests(spec: InterestsSpec, ts: np.ndarray, embeddings: np.ndarray, now: int) -> MemberInterests:
    """Interests of the actions given, which must be the chosen ones in history order.

    ``ts`` (n,) epoch ms and ``embeddings`` (n, dim) float64: already restricted
    to the spec's verbs, to actions with an embedding and to ``ts <= now``.
    """
    k, dim = spec.k, embeddings.shape[1]
    medoids, importances = np.zeros((k, dim)), np.zeros(k)
    n = len(ts)
    if n == 0:
        return MemberInterests(medoids, importances, 0)
    labels = _labels(spec, embeddings)
    weights = decay_weights(ts, now, spec.half_life_ms)
    clusters = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)  # ascending: history order
        clusters.append((float(weights[members].sum()), int(members[0]), members))
    # most important first; equal importance: the cluster with the newest action
    clusters.sort(key=lambda c: (-c[0], c[1]))
    for slot, (importance, _, members) in enumerate(clusters[:k]):
        points = embeddings[members]
        centroid = points.mean(axis=0)
        # argmin takes the first of equals: the newest action
        medoids[slot] = points[int(np.argmin(((points - centroid) ** 2).sum(axis=1)))]
        importances[slot] = importance
    return MemberInterests(medoids, importances, len(clusters))


def _labels(spec: InterestsSpec, embeddings: np.ndarray) -> np.ndarray:
    if len(embeddings) == 1:
        return np.zeros(1, dtype=np.int64)
    tree = linkage(embeddings, method="ward")
    if spec.distance_threshold is not None:
        return fcluster(tree, t=spec.distance_threshold, criterion="distance")
    return fcluster(tree, t=spec.k, criterion="maxclust")
