"""Interests: several interests per member, Ward clusters of recent embeddings and their medoids.

A plain mean of a member's embeddings lands between their interests
(PinnerSage: "paintings and shoes average to a salad"). Here, at request time
``now``, over the history's actions of the declared verbs that have an
embedding and ``ts <= now``, taken in history order (newest first, ties by
ascending ``action_id``):

1. Ward agglomerative clustering (``scipy.cluster.hierarchy.linkage``) of
   the embeddings, cut at ``distance_threshold`` (criterion ``distance``) or
   into at most ``k`` clusters (criterion ``maxclust``);
2. a cluster's importance is the sum of its actions' decayed weights
   ``2^(-(now - ts) / half_life)``, summed in history order;
3. its medoid is the action nearest (Euclidean) the cluster's centroid, an
   actual action's embedding;
4. clusters are ranked by importance, the ``k`` most important kept.

Outputs (``{prefix}`` is :attr:`InterestsSpec.prefix`):

* ``{prefix}_medoid_emb_{i}`` (vector) and ``{prefix}_importance_{i}`` (float)
  for slots ``i = 1..k``, zero past the clusters found;
* ``{prefix}_clusters`` (int): how many clusters the cut produced (may exceed k
  with a distance threshold);
* ``{prefix}_max_sim`` (float, per candidate): the best cosine of the candidate
  to a kept medoid (empty slots are ignored, so it may be negative);
* ``{prefix}_weighted_sim`` (float, per candidate): the importance-weighted
  mean of those cosines.

Ties are broken by history order, so every engine, which all hand
:func:`member_interests` the actions in that order, picks the same medoids:
among actions equally near a centroid the newest is the medoid (in a
two-action cluster, both are equally near: the newer one); among clusters of
equal importance the one holding the newest action ranks first. scipy's
linkage is deterministic for a given input order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from feast_pinot.features.base import Family, Inputs, Kind, Output
from feast_pinot.features.vectors import cosines, decay_weights
from feast_pinot.specs import InterestsSpec, WindowedFeaturesSpec

__all__ = ["FAMILY", "MemberInterests", "member_interests"]

MEDOID = Kind("medoid_emb", "vector", per_candidate=False, embedding=True)
IMPORTANCE = Kind("importance", "float", per_candidate=False, embedding=True)
CLUSTERS = Kind("clusters", "int", per_candidate=False, embedding=True)
MAX_SIM = Kind("max_sim", "float", per_candidate=True, embedding=True)
WEIGHTED_SIM = Kind("weighted_sim", "float", per_candidate=True, embedding=True)


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


def _outputs(spec: WindowedFeaturesSpec) -> list[tuple[str, Output]]:
    if spec.interests is None:
        return []
    prefix, k = spec.interests.prefix, spec.interests.k
    slotted = [(f"{prefix}_{kind.name}_{slot + 1}", Output(kind, slot)) for kind in (MEDOID, IMPORTANCE)
               for slot in range(k)]
    return slotted + [(f"{prefix}_{kind.name}", Output(kind, 0)) for kind in (CLUSTERS, MAX_SIM, WEIGHTED_SIM)]


def group_interests(inputs: Inputs) -> list[MemberInterests]:
    """Every group's interests: its history's interest actions, newest first, to :func:`member_interests`."""
    spec, actions, groups = inputs.spec.interests, inputs.actions, inputs.groups
    assert spec is not None and actions.embeddings is not None
    chosen = np.isin(actions.verb, [inputs.verb_number(verb) for verb in spec.verbs])
    if actions.embeddings.present is not None:
        chosen &= actions.embeddings.present
    elements = np.flatnonzero(chosen)
    ordinal = np.concatenate([[0], np.cumsum(chosen)])
    lo, hi = ordinal[groups.start], ordinal[np.maximum(groups.start, groups.end)]
    empty = member_interests(spec, actions.ts[:0], np.zeros((0, actions.embeddings.dim)), 0)
    out = []
    for first, end, now in zip(lo.tolist(), hi.tolist(), groups.now.tolist()):
        if end <= first:
            out.append(empty)
            continue
        picked = elements[first:end][::-1]  # history order, on which the tie-breaks depend
        out.append(member_interests(spec, actions.ts[picked], actions.embeddings.gather(picked), now))
    return out


def _compute(inputs: Inputs, asked: Mapping[str, Output]) -> dict[str, np.ndarray]:
    found = group_interests(inputs)
    dim = inputs.actions.embeddings.dim if inputs.actions.embeddings is not None else 0
    out: dict[str, np.ndarray] = {}
    for name, output in asked.items():
        if output.kind == MEDOID:
            out[name] = np.array([i.medoids[output.index] for i in found], np.float64).reshape(len(found), dim)
        elif output.kind == IMPORTANCE:
            out[name] = np.array([i.importances[output.index] for i in found], np.float64)
        elif output.kind == CLUSTERS:
            out[name] = np.array([i.clusters for i in found], np.int64)
    scored = {o.kind: name for name, o in asked.items() if o.kind in (MAX_SIM, WEIGHTED_SIM)}
    if scored:
        best, weighted = np.zeros(len(inputs.rows)), np.zeros(len(inputs.rows))
        if inputs.rows.candidates is not None:
            for group, members in inputs.rows.members(len(found)):
                if found[group].found:  # the others score 0
                    best[members], weighted[members] = found[group].similarities(inputs.rows.candidates[members])
        out |= {name: best if kind == MAX_SIM else weighted for kind, name in scored.items()}
    return out


FAMILY = Family("interests", (MEDOID, IMPORTANCE, CLUSTERS, MAX_SIM, WEIGHTED_SIM), _outputs, _compute)
