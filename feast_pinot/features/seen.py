"""Seen: what the member already did to the row's candidate, per verb and seen window ``w``.

Over the history's actions of the verb with ``now - w < ts <= now`` whose
object's key equals the row's candidate key:

* ``{verb}_seen_count_{w}`` (int, per candidate): how many;
* ``{verb}_seen_age_ms_{w}`` (int, per candidate): ``now`` minus the newest
  one's ts, or :data:`NO_SEEN_AGE` when none.

An object's key and a row's candidate key are codes of one code space
(:class:`feast_pinot.features.inputs.KeyCodes`): a missing or malformed
candidate key, or an object without a key, matches nothing.

How: the verb's keyed actions sorted by (actor, key, position), so a row's
hits are one range of that order, found by binary search.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from feast_pinot.features.base import Family, Inputs, Kind, Output, each_verb, verb_slug
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["FAMILY", "NO_SEEN_AGE"]

NO_SEEN_AGE = -1  # seen_age_ms when the member did not act on the candidate in the window

COUNT = Kind("seen_count", "int", per_candidate=True)
AGE = Kind("seen_age_ms", "int", per_candidate=True)


def _outputs(spec: WindowedFeaturesSpec) -> list[tuple[str, Output]]:
    windows = spec.seen.windows if spec.seen else ()
    return [
        (f"{verb_slug(verb)}_{kind.name}_{window.label}", Output(kind, v * len(windows) + w))
        for v, verb in enumerate(spec.verbs) for w, window in enumerate(windows) for kind in (COUNT, AGE)
    ]


class _Hits:
    """One verb's actions on keyed objects, sorted by (actor, key, position), and each row's run in them."""

    def __init__(self, inputs: Inputs, verb: int) -> None:
        actions, rows = inputs.actions, inputs.rows
        assert actions.keys is not None and rows.keys is not None, "seen features need object keys"
        ts, keys = actions.ts, actions.keys
        hits = np.flatnonzero((actions.verb == verb) & (keys >= 0))
        row_actor = inputs.groups.actor[rows.group]
        width = int(keys.max(initial=0)) + 1
        pairs, pair_of_hit = np.unique(actions.actor[hits] * width + keys[hits], return_inverse=True)
        self._span = len(ts) + 1  # a pair's positions are pair * span + position: one sorted array
        self._order = np.sort(pair_of_hit.astype(np.int64) * self._span + hits)
        wanted = row_actor * width + rows.keys
        at = np.minimum(np.searchsorted(pairs, wanted), max(len(pairs) - 1, 0))
        self._found = (row_actor >= 0) & (rows.keys >= 0) & (len(pairs) > 0)
        if len(pairs):
            self._found &= pairs[at] == wanted
        self._base = np.where(self._found, at, 0) * self._span

    def within(self, inputs: Inputs, first: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: its hits in positions ``[first, end)`` (per row), and the newest one's age."""
        ts, now = inputs.actions.ts, inputs.groups.now[inputs.rows.group]
        if not len(self._order):
            return np.zeros(len(now), np.int64), np.full(len(now), NO_SEEN_AGE, np.int64)
        upper = np.searchsorted(self._order, self._base + end)
        counts = np.where(self._found, np.maximum(upper - np.searchsorted(self._order, self._base + first), 0), 0)
        # the newest hit is the range's last: ascending in ts within an actor
        newest = np.clip(self._order[np.maximum(upper - 1, 0)] - self._base, 0, len(ts) - 1)
        ages = np.where(counts > 0, now - ts[newest], NO_SEEN_AGE)
        return counts.astype(np.int64), ages.astype(np.int64)


def _compute(inputs: Inputs, asked: Mapping[str, Output]) -> dict[str, np.ndarray]:
    spec = inputs.spec
    assert spec.seen is not None
    windows = spec.seen.windows
    by_verb: dict[int, dict[int, dict[str, str]]] = {}  # verb -> window -> kind -> name
    for name, output in asked.items():
        v, w = divmod(output.index, len(windows))
        by_verb.setdefault(v, {}).setdefault(w, {})[output.kind.name] = name
    group = inputs.rows.group

    def verb_outputs(v: int) -> dict[str, np.ndarray]:
        hits = _Hits(inputs, inputs.verb_number(spec.verbs[v]))
        out: dict[str, np.ndarray] = {}
        for w, names in sorted(by_verb[v].items()):
            first = inputs.first(windows[w].length_ms)[group]
            counts, ages = hits.within(inputs, first, inputs.groups.end[group])
            out |= {name: counts if kind == COUNT.name else ages for kind, name in names.items()}
        return out

    return each_verb(inputs, verb_outputs, sorted(by_verb))


FAMILY = Family("seen", (COUNT, AGE), _outputs, _compute)
