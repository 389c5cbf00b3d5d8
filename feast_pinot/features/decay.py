"""Time decay: per verb and half-life ``h``, over the whole history up to ``now``.

* ``{verb}_decayed_count_{h}`` (float): the sum of the weights ``2^(-(now - ts) / h)``;
* ``{verb}_decayed_mean_emb_{h}`` (vector): ``sum(w * e) / sum(w)`` over the
  actions with an embedding, ``w = 2^(-(newest - ts) / h)`` relative to the
  newest of them: the same mean as with weights relative to ``now``, and it
  exists however old the actions are;
* ``{verb}_decayed_sim_{h}`` (float, per candidate): cosine of the candidate
  and that mean.

No actions give 0 and a zero vector. The sums run over each group's range
term by term, oldest first (no running sums, so nothing cancels); the
weighted sums of all groups are one sparse product (groups x actions) with the
verb's embeddings, gathered once for every half-life.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from feast_pinot.features.base import Family, Inputs, Kind, Output, each_verb, verb_slug
from feast_pinot.features.vectors import decay_weights, spans
from feast_pinot.features.windows import similarities
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["FAMILY"]

COUNT = Kind("decayed_count", "float", per_candidate=False)
MEAN = Kind("decayed_mean_emb", "vector", per_candidate=False, embedding=True)
SIM = Kind("decayed_sim", "float", per_candidate=True, embedding=True)


def _outputs(spec: WindowedFeaturesSpec) -> list[tuple[str, Output]]:
    kinds = [k for k in (COUNT, MEAN, SIM) if spec.embedding_dim or not k.embedding]
    return [
        (f"{verb_slug(verb)}_{kind.name}_{decay.label}", Output(kind, v * len(spec.decays) + d))
        for v, verb in enumerate(spec.verbs) for d, decay in enumerate(spec.decays) for kind in kinds
    ]


@dataclass(frozen=True)
class _Terms:
    """One verb's actions in every group's history, laid end to end (group by group, oldest first)."""

    elements: np.ndarray  # the chosen actions' positions
    index: np.ndarray  # per term: which element
    offsets: np.ndarray  # where each group's terms begin (+ the end)
    group: np.ndarray  # per term: its group
    ts: np.ndarray  # per term

    @classmethod
    def of(cls, inputs: Inputs, chosen: np.ndarray) -> _Terms:
        groups = inputs.groups
        elements = np.flatnonzero(chosen)
        ordinal = np.concatenate([[0], np.cumsum(chosen)])
        index, offsets = spans(ordinal[groups.start], ordinal[np.maximum(groups.start, groups.end)])
        group = np.repeat(np.arange(len(groups)), np.diff(offsets))
        return cls(elements, index, offsets, group, inputs.actions.ts[elements[index]])

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per group, the sum of its terms' ``values``, in order."""
        out = np.zeros(len(self.offsets) - 1)
        nonempty = np.flatnonzero(np.diff(self.offsets))
        if len(nonempty):
            out[nonempty] = np.add.reduceat(values, self.offsets[nonempty])
        return out

    def newest(self) -> np.ndarray:
        """Per group, its newest term's ts (ascending within an actor: the last); 0 for none."""
        last = np.maximum(self.offsets[1:] - 1, 0)
        return np.where(np.diff(self.offsets) > 0, self.ts[last] if len(self.ts) else 0, 0)


def _counts(inputs: Inputs, terms: _Terms, half_life_ms: int) -> np.ndarray:
    return terms.sums(decay_weights(terms.ts, inputs.groups.now[terms.group], half_life_ms))


def _means(terms: _Terms, half_life_ms: int, embeddings: np.ndarray) -> np.ndarray:
    """``sum(w * e) / sum(w)`` per group, ``embeddings`` the elements' (float64)."""
    weights = decay_weights(terms.ts, terms.newest()[terms.group], half_life_ms)
    total = terms.sums(weights)
    matrix = sparse.csr_matrix((weights, terms.index, terms.offsets), shape=(len(total), len(embeddings)))
    weighted = np.asarray(matrix @ embeddings)
    return np.divide(weighted, total[:, None], out=np.zeros_like(weighted), where=total[:, None] > 0)


def _compute(inputs: Inputs, asked: Mapping[str, Output]) -> dict[str, np.ndarray]:
    spec, actions = inputs.spec, inputs.actions
    by_verb: dict[int, dict[int, dict[str, str]]] = {}  # verb -> half-life -> kind -> name
    for name, output in asked.items():
        v, d = divmod(output.index, len(spec.decays))
        by_verb.setdefault(v, {}).setdefault(d, {})[output.kind.name] = name

    def verb_outputs(v: int) -> dict[str, np.ndarray]:
        decays = by_verb[v]
        chosen = actions.verb == inputs.verb_number(spec.verbs[v])
        every = _Terms.of(inputs, chosen)
        with_embedding, embeddings = every, None
        if any(names.keys() & {MEAN.name, SIM.name} for names in decays.values()):
            assert actions.embeddings is not None
            if actions.embeddings.present is not None:
                with_embedding = _Terms.of(inputs, chosen & actions.embeddings.present)
            embeddings = actions.embeddings.gather(with_embedding.elements)  # once for every half-life
        out: dict[str, np.ndarray] = {}
        for d, names in sorted(decays.items()):
            half_life = spec.decays[d].half_life_ms
            if COUNT.name in names:
                out[names[COUNT.name]] = _counts(inputs, every, half_life)
            if embeddings is not None and names.keys() & {MEAN.name, SIM.name}:
                mean = _means(with_embedding, half_life, embeddings)
                if MEAN.name in names:
                    out[names[MEAN.name]] = mean
                if SIM.name in names:
                    out[names[SIM.name]] = similarities(inputs, [mean])[0]
        return out

    return each_verb(inputs, verb_outputs, sorted(by_verb))


FAMILY = Family("decay", (COUNT, MEAN, SIM), _outputs, _compute)
