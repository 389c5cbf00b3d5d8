"""Time decay: per verb and half-life ``h``, over the whole history up to ``now``.

* ``{verb}_decayed_count_{h}`` (float): the sum of the weights ``2^(-(now - ts) / h)``;
* ``{verb}_decayed_mean_emb_{h}`` (vector): ``sum(w * e) / sum(w)`` over the
  actions with an embedding, ``w = 2^(-(newest - ts) / h)`` relative to the
  newest of them: the same mean as with weights relative to ``now``, and it
  exists however old the actions are;
* ``{verb}_decayed_sim_{h}`` (float, per candidate): cosine of the candidate
  and that mean.

No actions give 0 and a zero vector. The sums run over each group's range
term by term, oldest first (no running sums, so nothing cancels).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from feast_pinot.features.base import Embeddings, Family, Inputs, Kind, Output, verb_slug
from feast_pinot.features.vectors import decay_weights, range_sums
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


def _counts(inputs: Inputs, verb: int, half_life_ms: int) -> np.ndarray:
    groups, ts = inputs.groups, inputs.actions.ts
    elements = np.flatnonzero(inputs.actions.verb == verb)
    ordinal = inputs.ordinal(verb)
    return range_sums(lambda i, g: decay_weights(ts[elements[i]], groups.now[g], half_life_ms),
                      ordinal[groups.start], ordinal[np.maximum(groups.start, groups.end)], 0)


def _means(inputs: Inputs, verb: int, half_life_ms: int, embeddings: Embeddings) -> np.ndarray:
    groups, ts = inputs.groups, inputs.actions.ts
    chosen = inputs.actions.verb == verb
    if embeddings.present is not None:
        chosen &= embeddings.present
    elements = np.flatnonzero(chosen)
    ordinal = np.concatenate([[0], np.cumsum(chosen)])
    lo, hi = ordinal[groups.start], ordinal[np.maximum(groups.start, groups.end)]
    # ascending within an actor: a range's newest element is its last
    newest = ts[elements[np.maximum(hi - 1, 0)]] if len(elements) else np.zeros(len(lo), np.int64)

    def weights(index: np.ndarray, group: np.ndarray) -> np.ndarray:
        return decay_weights(ts[elements[index]], newest[group], half_life_ms)

    total = range_sums(weights, lo, hi, 0)
    weighted = range_sums(lambda i, g: weights(i, g)[:, None] * embeddings.gather(elements[i]), lo, hi,
                          embeddings.dim)
    return np.divide(weighted, total[:, None], out=np.zeros_like(weighted), where=total[:, None] > 0)


def _compute(inputs: Inputs, asked: Mapping[str, Output]) -> dict[str, np.ndarray]:
    spec = inputs.spec
    out: dict[str, np.ndarray] = {}
    by_index: dict[int, dict[str, str]] = {}
    for name, output in asked.items():
        by_index.setdefault(output.index, {})[output.kind.name] = name
    for index, names in sorted(by_index.items()):
        v, d = divmod(index, len(spec.decays))
        verb, half_life = inputs.verb_number(spec.verbs[v]), spec.decays[d].half_life_ms
        if COUNT.name in names:
            out[names[COUNT.name]] = _counts(inputs, verb, half_life)
        if names.keys() & {MEAN.name, SIM.name}:
            assert inputs.actions.embeddings is not None
            mean = _means(inputs, verb, half_life, inputs.actions.embeddings)
            if MEAN.name in names:
                out[names[MEAN.name]] = mean
            if SIM.name in names:
                out[names[SIM.name]] = similarities(inputs, mean)
    return out


FAMILY = Family("decay", (COUNT, MEAN, SIM), _outputs, _compute)
