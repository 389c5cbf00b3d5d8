"""Windows: per verb and window ``w``, over the history's actions with ``now - w < ts <= now``.

* ``{verb}_count_{w}`` (int): how many;
* ``{verb}_mean_emb_{w}`` (vector): the element-wise mean of their embeddings
  (actions without one are counted but left out of the mean);
* ``{verb}_sim_{w}`` (float, per candidate): cosine of the candidate's
  embedding and that mean.

An empty window gives 0 and a zero vector, and its similarity is 0.

How: running sums of the embeddings that restart at every (verb, actor), so a
window's sum is the difference of two of them, in O(dim) per group whatever
the window holds, for every asked (verb, window) pair at once. A difference
can lose what a large value (a float32 up to 3.4e38 is valid) swallowed in
the running sum, so every difference carries a bound on its rounding error
(from the count of terms and the run's largest value): a window whose mean
could be off by more than :data:`TOLERANCE` is summed again directly, term by
term, oldest first. Restarting at every actor keeps one actor's values out of
every other actor's windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from feast_pinot.features.base import Embeddings, Family, Inputs, Kind, Output, verb_slug
from feast_pinot.features.vectors import BLOCK, norms, range_sums, row_cosines, run_cumsums
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["FAMILY", "TOLERANCE", "RunningSums", "similarities"]

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
class RunningSums:
    """Running sums of the embeddings of some verbs' actions (those with one), one run per (verb, actor).

    Elements are the chosen actions in verb-major order (the first verb's, in
    action order, then the next verb's); run ``r = v * actors + c`` holds verb
    ``v``'s elements of actor ``c``. Element ``e`` of run ``r`` is summed into
    slot ``e + 1 + r``, and slot ``e + r`` before a run's first element stays
    0, so the sum of the elements ``[lo, hi)`` of run ``r`` is
    ``sums[hi + r] - sums[lo + r]``.
    """

    elements: np.ndarray  # each element's action position
    offsets: np.ndarray  # (verbs + 1,) where each verb's elements begin
    ordinal: np.ndarray  # (verbs, n + 1): the verb's elements before each action position
    sums: np.ndarray  # (elements + runs + 1, dim) float64
    run_first: np.ndarray  # per run: its first element
    run_largest: np.ndarray  # per run: the largest |value| of its elements
    actors: int

    @classmethod
    def of(cls, actor: np.ndarray, chosen: np.ndarray, embeddings: Embeddings) -> RunningSums:
        """``chosen`` (verbs, n): which actions each verb sums."""
        actors = int(actor.max(initial=-1)) + 1
        ordinal = np.zeros((len(chosen), chosen.shape[1] + 1), np.int64)
        np.cumsum(chosen, axis=1, out=ordinal[:, 1:])
        offsets = np.concatenate([[0], np.cumsum(ordinal[:, -1])])
        elements = np.flatnonzero(chosen.ravel()) % max(chosen.shape[1], 1)
        run = np.repeat(np.arange(len(chosen)) * actors, np.diff(offsets)) + actor[elements]
        slots = np.arange(1, len(elements) + 1) + run
        sums = np.zeros((len(elements) + len(chosen) * actors + 1, embeddings.dim))
        largest = np.zeros(len(elements))
        for start in range(0, len(elements), BLOCK):
            block = slice(start, start + BLOCK)
            values = embeddings.stored[embeddings.row[elements[block]]]
            sums[slots[block]] = values
            largest[block] = np.abs(values).max(axis=1, initial=0.0)
        run_first = np.searchsorted(run, np.arange(len(chosen) * actors))
        starts = np.flatnonzero(np.diff(run, prepend=-1))  # runs with elements
        run_cumsums(sums, slots[starts], np.diff(np.append(starts, len(elements))))
        run_largest = np.zeros(len(chosen) * actors)
        if len(starts):
            run_largest[run[starts]] = np.maximum.reduceat(largest, starts)
        return cls(elements, offsets, ordinal, sums, run_first, run_largest, actors)

    def between(self, verb: np.ndarray, actor: np.ndarray, first: np.ndarray, end: np.ndarray,
                embeddings: Embeddings) -> tuple[np.ndarray, np.ndarray]:
        """Per query (verb rank, actor, action positions ``[first, end)``): the sum of its elements, how many."""
        lo = self.offsets[verb] + self.ordinal[verb, first]
        hi = self.offsets[verb] + self.ordinal[verb, end]
        n = np.maximum(hi - lo, 0)
        run = np.where(n > 0, verb * self.actors + actor, 0)  # an empty range reads a zero slot
        out = np.zeros((len(lo), self.sums.shape[1]))
        for start in range(0, len(lo), BLOCK):
            block = slice(start, start + BLOCK)
            out[block] = self.sums[hi[block] + run[block]] - self.sums[lo[block] + run[block]]
        if len(self.run_first):
            # |computed - exact| of a running sum of k terms is at most (k u / (1 - k u)) * sum |terms|,
            # and each term of a run is at most its largest value
            before_hi, before_lo = hi - self.run_first[run], lo - self.run_first[run]
            gamma = before_hi * _UNIT / np.maximum(1.0 - before_hi * _UNIT, _UNIT)
            bound = 2.0 * gamma * (before_hi + before_lo) * self.run_largest[run]
            direct = np.flatnonzero((n > 0) & (bound > TOLERANCE * n))
            if len(direct):
                out[direct] = range_sums(lambda index, _: embeddings.gather(self.elements[index]),
                                         lo[direct], hi[direct], embeddings.dim)
        return out, n


def similarities(inputs: Inputs, per_group: list[np.ndarray]) -> list[np.ndarray]:
    """For each of ``per_group`` (groups, dim): each row's cosine of its candidate and its group's vector.

    0 without a candidate.
    """
    rows = inputs.rows
    out = [np.zeros(len(rows)) for _ in per_group]
    if rows.candidates is None or not per_group:
        return out
    vectors = np.concatenate(per_group)
    vector_norms, candidate_norms = norms(vectors), inputs.candidate_norms()
    step = max(1, BLOCK // len(per_group))
    for start in range(0, len(rows), step):
        block = slice(start, start + step)
        # every vector's rows of this block at once: (vectors x rows) gathered side by side
        index = (np.arange(len(per_group))[:, None] * len(inputs.groups) + rows.group[block][None, :]).ravel()
        found = row_cosines(np.tile(rows.candidates[block], (len(per_group), 1)), vectors[index],
                            np.tile(candidate_norms[block], len(per_group)), vector_norms[index])
        for number, cosine in enumerate(found.reshape(len(per_group), -1)):
            out[number][block] = cosine
    return out


def _compute(inputs: Inputs, asked: Mapping[str, Output]) -> dict[str, np.ndarray]:
    spec, actions, groups = inputs.spec, inputs.actions, inputs.groups
    pairs: dict[tuple[int, int], dict[str, str]] = {}  # (verb, window) -> kind -> name
    for name, output in asked.items():
        pairs.setdefault(divmod(output.index, len(spec.windows)), {})[output.kind.name] = name
    verbs = sorted({v for v, _ in pairs})
    codes = np.array([inputs.verb_number(spec.verbs[v]) for v in verbs], np.int64)
    of_verb = actions.verb[None, :] == codes[:, None]  # (verbs, n)
    counted = np.zeros((len(verbs), len(actions) + 1), np.int64)
    np.cumsum(of_verb, axis=1, out=counted[:, 1:])
    averaged = [(v, w) for (v, w), names in pairs.items() if names.keys() & {MEAN.name, SIM.name}]
    found: dict[tuple[int, int], np.ndarray] = {}
    if averaged:
        embeddings = actions.embeddings
        assert embeddings is not None, "means are declared over histories with embeddings only"
        chosen = of_verb if embeddings.present is None else of_verb & embeddings.present[None, :]
        running = RunningSums.of(actions.actor, chosen, embeddings)
        rank = np.array([verbs.index(v) for v, _ in averaged], np.int64).repeat(len(groups))
        first = np.concatenate([inputs.first(spec.windows[w].length_ms) for _, w in averaged])
        sums, n = running.between(rank, np.tile(groups.actor, len(averaged)), first,
                                  np.tile(groups.end, len(averaged)), embeddings)
        mean = np.divide(sums, n[:, None], out=np.zeros_like(sums), where=n[:, None] > 0)
        found = {pair: mean[i * len(groups):(i + 1) * len(groups)] for i, pair in enumerate(averaged)}
    out: dict[str, np.ndarray] = {}
    for (v, w), names in pairs.items():
        if COUNT.name in names:
            at = counted[verbs.index(v)]
            out[names[COUNT.name]] = np.maximum(at[groups.end] - at[inputs.first(spec.windows[w].length_ms)], 0)
        if MEAN.name in names:
            out[names[MEAN.name]] = found[v, w]
    scored = [(pair, names[SIM.name]) for pair, names in pairs.items() if SIM.name in names]
    out |= {name: sims for (_, name), sims in zip(scored, similarities(inputs, [found[p] for p, _ in scored]))}
    return out


FAMILY = Family("windows", (COUNT, MEAN, SIM), _outputs, _compute)
