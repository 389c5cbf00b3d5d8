"""Windows: per verb and window ``w``, over the history's actions with ``now - w < ts <= now``.

* ``{verb}_count_{w}`` (int): how many;
* ``{verb}_mean_emb_{w}`` (vector): the element-wise mean of their embeddings
  (actions without one are counted but left out of the mean);
* ``{verb}_sim_{w}`` (float, per candidate): cosine of the candidate's
  embedding and that mean.

An empty window gives 0 and a zero vector, and its similarity is 0.

How: per verb, running sums of the embeddings that restart at every actor, so
a window's sum is the difference of two of them, in O(dim) per group
whatever the window holds. A difference can lose what a large value (a float32
up to 3.4e38 is valid) swallowed in the running sum, so every difference
carries a bound on its rounding error (from running sums of the magnitudes):
a window whose mean could be off by more than :data:`TOLERANCE` is summed
again directly, term by term, oldest first. Restarting at every actor keeps
one actor's values out of every other actor's windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from feast_pinot.features.base import Embeddings, Family, Inputs, Kind, Output, each_verb, verb_slug
from feast_pinot.features.vectors import BLOCK, norms, range_sums, row_cosines, run_cumsums
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["FAMILY", "TOLERANCE", "Prefix", "means", "similarities", "verb_prefix"]

COUNT = Kind("count", "int", per_candidate=False)
MEAN = Kind("mean_emb", "vector", per_candidate=False, embedding=True)
SIM = Kind("sim", "float", per_candidate=True, embedding=True)

# the largest error a mean taken from two running sums may carry; beyond it, the sum is taken directly
TOLERANCE = 1e-9
_UNIT = 2.0 ** -53


def _outputs(spec: WindowedFeaturesSpec) -> list[tuple[str, Output]]:
    kinds = [k for k in (COUNT, MEAN, SIM) if spec.embedding_dim or not k.embedding]
    return [
        (f"{verb_slug(verb)}_{kind.name}_{window.label}", Output(kind, v * len(spec.windows) + w))
        for v, verb in enumerate(spec.verbs) for w, window in enumerate(spec.windows) for kind in kinds
    ]


@dataclass(frozen=True)
class Prefix:
    """Running sums of one verb's embeddings (actions with one), restarting at every actor.

    Element ``j`` (the ``j``-th such action, ``positions[j]``) of actor ``c``
    is summed into slot ``j + 1 + c``; slot ``j + c`` before an actor's first
    element stays 0. So the sum of the elements ``[lo, hi)`` of actor ``c`` is
    ``sums[hi + c] - sums[lo + c]``.
    """

    positions: np.ndarray  # the verb's actions with an embedding, ascending
    ordinal: np.ndarray  # per action position (n + 1): elements before it
    sums: np.ndarray  # (elements + actors + 1, dim) float64
    actor_first: np.ndarray  # per actor code: its first element
    actor_largest: np.ndarray  # per actor code: the largest |value| of its elements

    @classmethod
    def of(cls, actions_actor: np.ndarray, embeddings: Embeddings, chosen: np.ndarray) -> Prefix:
        positions = np.flatnonzero(chosen)
        codes = actions_actor[positions]
        actors = int(actions_actor.max(initial=-1)) + 1
        values = np.empty((len(positions), embeddings.dim))
        largest = np.zeros(len(positions))
        for start in range(0, len(positions), BLOCK):
            block = slice(start, start + BLOCK)
            values[block] = embeddings.stored[embeddings.row[positions[block]]]
            largest[block] = np.abs(values[block]).max(axis=1, initial=0.0)
        actor_first = np.searchsorted(codes, np.arange(actors))
        runs = np.flatnonzero(np.diff(actor_first, append=len(positions)))  # actors with elements
        run_starts = actor_first[runs]
        run_cumsums(values, run_starts, np.diff(actor_first, append=len(positions))[runs])
        sums = np.zeros((len(positions) + actors + 1, embeddings.dim))
        sums[np.arange(1, len(positions) + 1) + codes] = values
        actor_largest = np.zeros(actors)
        if len(runs):
            actor_largest[runs] = np.maximum.reduceat(largest, run_starts)
        ordinal = np.concatenate([[0], np.cumsum(chosen)])
        return cls(positions, ordinal, sums, actor_first, actor_largest)

    def sums_between(self, actor: np.ndarray, first: np.ndarray, end: np.ndarray,
                     embeddings: Embeddings) -> tuple[np.ndarray, np.ndarray]:
        """Per group: the sum of its elements in action positions ``[first, end)``, and how many."""
        lo, hi = self.ordinal[first], self.ordinal[end]
        n = np.maximum(hi - lo, 0)
        code = np.where(n > 0, actor, 0)  # an empty range reads the zero slot before the first element
        out = np.zeros((len(lo), self.sums.shape[1]))
        for start in range(0, len(lo), BLOCK):
            block = slice(start, start + BLOCK)
            out[block] = self.sums[hi[block] + code[block]] - self.sums[lo[block] + code[block]]
        # |computed - exact| of a running sum of k terms is at most (k u / (1 - k u)) * sum |terms|, and
        # each of the k terms of an actor is at most its largest value
        if len(self.actor_first):
            before_hi, before_lo = hi - self.actor_first[code], lo - self.actor_first[code]
            gamma = before_hi * _UNIT / np.maximum(1.0 - before_hi * _UNIT, _UNIT)
            bound = 2.0 * gamma * (before_hi + before_lo) * self.actor_largest[code]
            direct = np.flatnonzero((n > 0) & (bound > TOLERANCE * n))
            if len(direct):
                out[direct] = range_sums(
                    lambda index, _: embeddings.gather(self.positions[index]), lo[direct], hi[direct],
                    embeddings.dim)
        return out, n


def verb_prefix(inputs: Inputs, verb: int) -> Prefix:
    """The running sums of ``verb``'s actions that have an embedding."""
    embeddings = inputs.actions.embeddings
    assert embeddings is not None, "means are declared over histories with embeddings only"
    chosen = inputs.actions.verb == verb
    if embeddings.present is not None:
        chosen &= embeddings.present
    return Prefix.of(inputs.actions.actor, embeddings, chosen)


def means(inputs: Inputs, prefix: Prefix, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per group, the mean embedding of the prefix's actions in ``[first, end)``; 0 if none."""
    assert inputs.actions.embeddings is not None
    sums, n = prefix.sums_between(inputs.groups.actor, first, end, inputs.actions.embeddings)
    return np.divide(sums, n[:, None], out=np.zeros_like(sums), where=n[:, None] > 0)


def similarities(inputs: Inputs, per_group: np.ndarray) -> np.ndarray:
    """Each row's cosine of its candidate and its group's vector; 0 without a candidate."""
    rows = inputs.rows
    out = np.zeros(len(rows))
    if rows.candidates is None:
        return out
    candidate_norms, group_norms = inputs.candidate_norms(), norms(per_group)
    for start in range(0, len(rows), BLOCK):
        block = slice(start, start + BLOCK)
        group = rows.group[block]
        out[block] = row_cosines(rows.candidates[block], per_group[group], candidate_norms[block], group_norms[group])
    return out


def _compute(inputs: Inputs, asked: Mapping[str, Output]) -> dict[str, np.ndarray]:
    spec = inputs.spec
    by_verb: dict[int, dict[int, dict[str, str]]] = {}  # verb -> window -> kind -> name
    for name, output in asked.items():
        v, w = divmod(output.index, len(spec.windows))
        by_verb.setdefault(v, {}).setdefault(w, {})[output.kind.name] = name

    def verb_outputs(v: int) -> dict[str, np.ndarray]:
        verb = inputs.verb_number(spec.verbs[v])
        ordinal = inputs.ordinal(verb)
        prefix = None
        out: dict[str, np.ndarray] = {}
        for w, names in sorted(by_verb[v].items()):
            first, end = inputs.first(spec.windows[w].length_ms), inputs.groups.end
            if "count" in names:
                out[names["count"]] = np.maximum(ordinal[end] - ordinal[first], 0).astype(np.int64)
            if names.keys() & {"mean_emb", "sim"}:
                prefix = prefix or verb_prefix(inputs, verb)
                mean = means(inputs, prefix, first, end)
                if "mean_emb" in names:
                    out[names["mean_emb"]] = mean
                if "sim" in names:
                    out[names["sim"]] = similarities(inputs, mean)
        return out

    return each_verb(inputs, verb_outputs, sorted(by_verb))


FAMILY = Family("windows", (COUNT, MEAN, SIM), _outputs, _compute)
