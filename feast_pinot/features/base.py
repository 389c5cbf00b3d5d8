"""What every engine hands the feature families, and what a family is.

An engine (the ODFV body, the online ranking read, the DuckDB and the Spark
training-data engines) turns its input into three sets of arrays:

* :class:`Actions`: actions sorted by (actor, ts, ``action_id`` descending),
  so each actor's actions are one run, ascending in time; reversed, a run is
  in history order (newest first, ties by ascending ``action_id``);
* :class:`Groups`: the (actor, request time) instants asked for, each with its
  history as an index range ``[start, end)`` in the actions;
* :class:`Rows`: the entity rows, each with its group, candidate embedding and
  candidate key.

A :class:`Family` (windows, decay, seen, interests) turns those into arrays by
output name: member-level outputs one value per group, per-candidate outputs
one per row. Which names exist is the family's business
(:meth:`Family.outputs`); the engines only read the arrays by name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from feast_pinot.features.vectors import norms
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = [
    "Actions",
    "Embeddings",
    "Family",
    "Groups",
    "Inputs",
    "Kind",
    "KindName",
    "Output",
    "Rows",
    "ValueType",
    "bisect_right",
    "each_verb",
    "verb_slug",
]

# from this many actions on, a family's verbs are computed in parallel threads (numpy releases the GIL)
PARALLEL_FROM = 50_000

ValueType = Literal["int", "float", "vector"]
KindName = Literal[
    "count", "mean_emb", "sim",
    "decayed_count", "decayed_mean_emb", "decayed_sim",
    "seen_count", "seen_age_ms",
    "medoid_emb", "importance", "clusters", "max_sim", "weighted_sim",
]


def verb_slug(verb: str) -> str:
    """A feature-name-safe form of a verb (``job-apply`` -> ``job_apply``)."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", verb)


@dataclass(frozen=True)
class Kind:
    """One kind of output: how it is valued, and whether it is computed per candidate row.

    ``embedding``: declared only over histories with embeddings. A
    per-candidate kind scores the row's candidate embedding if it is an
    embedding kind, else the row's candidate key.
    """

    name: KindName
    value: ValueType
    per_candidate: bool
    embedding: bool = False

    @property
    def scores_embedding(self) -> bool:
        """Whether each row's candidate embedding is read for it."""
        return self.per_candidate and self.embedding

    @property
    def scores_key(self) -> bool:
        """Whether each row's candidate key is read for it."""
        return self.per_candidate and not self.embedding


@dataclass(frozen=True)
class Output:
    """One output feature: its kind and its position among its kind's outputs.

    ``index`` is the (verb, window) pair of window and seen kinds, the (verb,
    half-life) pair of decayed kinds, the slot of ``medoid_emb`` and
    ``importance``, and 0 for the other interest kinds.
    """

    kind: Kind
    index: int

    @property
    def value(self) -> ValueType:
        return self.kind.value

    @property
    def per_candidate(self) -> bool:
        return self.kind.per_candidate


@dataclass(frozen=True)
class Embeddings:
    """The actions' embeddings: ``stored[row[i]]`` is action ``i``'s.

    The indirection lets the offline engine keep every Parquet part's
    embeddings where they were read, in file order, without a sorted copy.
    """

    stored: np.ndarray  # (m, dim) float32 or float64, finite
    row: np.ndarray  # (n,) int64
    present: np.ndarray | None = None  # (n,) bool: False where an action has none; None: all have one

    @property
    def dim(self) -> int:
        return int(self.stored.shape[1])

    def gather(self, positions: np.ndarray) -> np.ndarray:
        """The embeddings of ``positions`` as float64 rows."""
        return self.stored[self.row[positions]].astype(np.float64)

    def has(self, positions: np.ndarray) -> np.ndarray:
        """Which of ``positions`` have an embedding."""
        return np.ones(len(positions), bool) if self.present is None else self.present[positions]


@dataclass(frozen=True)
class Actions:
    """Actions sorted by (actor, ts, ``action_id`` descending): one ascending run per actor."""

    actor: np.ndarray  # (n,) int64 dense code, non-decreasing
    ts: np.ndarray  # (n,) int64 epoch ms
    verb: np.ndarray  # (n,) int64: 1-based position in the view's ``read_verbs``, 0 for any other verb
    embeddings: Embeddings | None = None
    keys: np.ndarray | None = None  # (n,) int64 object-key code (seen features), -1: none

    def __len__(self) -> int:
        return len(self.ts)

    def runs(self, actors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``actors`` (codes, -1: none) begins and ends; empty for -1."""
        begin = np.searchsorted(self.actor, actors, side="left")
        end = np.searchsorted(self.actor, actors, side="right")
        none = actors < 0
        return np.where(none, 0, begin), np.where(none, 0, end)


@dataclass(frozen=True)
class Groups:
    """The (actor, request time) instants asked for; each one's history is ``[start, end)``."""

    actor: np.ndarray  # (g,) actor code, -1 for an actor without actions
    start: np.ndarray  # (g,) int64
    end: np.ndarray  # (g,) int64; ``end <= start``: empty
    now: np.ndarray  # (g,) int64 request time, epoch ms

    def __len__(self) -> int:
        return len(self.now)


@dataclass(frozen=True)
class Rows:
    """The entity rows: each one's group, candidate embedding and candidate key."""

    group: np.ndarray  # (r,) int64
    candidates: np.ndarray | None = None  # (r, dim) float64, zero rows where missing
    keys: np.ndarray | None = None  # (r,) int64 key code in the actions' code space, -1: none

    def __len__(self) -> int:
        return len(self.group)

    def members(self, groups: int) -> Iterator[tuple[int, np.ndarray]]:
        """Each group with rows, and its rows (ascending)."""
        order = np.argsort(self.group, kind="stable")
        starts = np.searchsorted(self.group[order], np.arange(groups + 1))
        for group in np.flatnonzero(np.diff(starts)).tolist():
            yield group, order[starts[group]:starts[group + 1]]


def bisect_right(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per query, the first index in ``[lo, hi)`` whose value exceeds ``x`` (``values`` ascending there).

    Each run of ``values`` is searched on its own, so no combined (actor, ts)
    key has to fit in 64 bits: a few queries one by one, many in a vectorised
    binary search (one step for all of them at a time).
    """
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    if len(lo) <= _FEW_QUERIES:
        return np.array([a + np.searchsorted(values[a:b], q, side="right") if b > a else a
                         for a, b, q in zip(lo.tolist(), hi.tolist(), x.tolist())], np.int64)
    active = np.flatnonzero(lo < hi)
    while len(active):
        mid = (lo[active] + hi[active]) // 2
        right = values[mid] <= x[active]
        lo[active[right]] = mid[right] + 1
        hi[active[~right]] = mid[~right]
        active = active[lo[active] < hi[active]]
    return lo


_FEW_QUERIES = 16  # below this, one searchsorted per query costs less than the vectorised steps


@dataclass
class Inputs:
    """One call's actions, groups and rows for one windowed view, with what several families share."""

    spec: WindowedFeaturesSpec
    actions: Actions
    groups: Groups
    rows: Rows
    _firsts: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _ordinals: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _candidate_norms: np.ndarray | None = field(default=None, repr=False)

    def first(self, length_ms: int) -> np.ndarray:
        """Per group, the first action of its history with ``ts > now - length_ms``."""
        if length_ms not in self._firsts:
            g = self.groups
            self._firsts[length_ms] = np.minimum(
                bisect_right(self.actions.ts, g.start, np.maximum(g.start, g.end), g.now - length_ms), g.end)
        return self._firsts[length_ms]

    def ordinal(self, verb: int) -> np.ndarray:
        """``ordinal[i]``: how many actions of ``verb`` precede position ``i`` (n + 1 entries)."""
        if verb not in self._ordinals:
            self._ordinals[verb] = np.concatenate([[0], np.cumsum(self.actions.verb == verb)])
        return self._ordinals[verb]

    def candidate_norms(self) -> np.ndarray:
        """Each row's candidate's norm (0 without candidates)."""
        if self._candidate_norms is None:
            candidates = self.rows.candidates
            self._candidate_norms = np.zeros(len(self.rows)) if candidates is None else norms(candidates)
        return self._candidate_norms

    def verb_number(self, verb: str) -> int:
        """``verb``'s code in :attr:`Actions.verb`."""
        return self.spec.read_verbs.index(verb) + 1


def each_verb(inputs: Inputs, work: Callable[[int], dict[str, np.ndarray]],
              verbs: Iterable[int]) -> dict[str, np.ndarray]:
    """``work`` of every verb (the families' outputs of each verb are independent), merged.

    On a large log the verbs run in threads, one per core.
    """
    verbs = list(verbs)
    out: dict[str, np.ndarray] = {}
    if len(inputs.actions) < PARALLEL_FROM or len(verbs) < 2:
        for verb in verbs:
            out |= work(verb)
        return out
    with ThreadPoolExecutor(max_workers=min(len(verbs), os.cpu_count() or 1)) as pool:
        for found in pool.map(work, verbs):
            out |= found
    return out


@dataclass(frozen=True)
class Family:
    """A feature family: its kinds, the outputs a spec declares, and their computation.

    ``outputs(spec)`` lists ``(name, output)`` in declaration order;
    ``compute(inputs, asked)`` returns an array per asked name: member-level
    outputs ``(groups,)`` or ``(groups, dim)``, per-candidate ones ``(rows,)``.
    """

    name: str
    kinds: tuple[Kind, ...]
    outputs: Callable[[WindowedFeaturesSpec], list[tuple[str, Output]]]
    compute: Callable[[Inputs, Mapping[str, Output]], dict[str, np.ndarray]]
