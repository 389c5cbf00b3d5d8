"""Already-acted-on counts and ages per entity row, straight from the sorted log.

For a row with candidate key ``c``, a verb and a seen window ``w``: the
actions of that verb in the row's range ``[first_w, end)`` (its history as of
``t`` with ``R - w < ts <= R``, ``R`` its ``request_ts``; see
:mod:`feast_pinot.offline.windows`) whose object's key equals ``c``. The
seen count is their number, the seen age ``R`` minus the newest one's ts, or
:data:`~feast_pinot.windows.NO_SEEN_AGE` when none.

An object's key is :meth:`SeenSpec.object_key` (parsed once per distinct
object); a row's is :func:`feast_pinot.windows.candidate_keys`' rule: a
missing or malformed candidate key matches nothing, nor does an object
without a key - as the ODFV body decides.

The verb's keyed actions are sorted by (actor, key, log position), so a row's
hits are one range of that order, found by binary search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from feast_pinot.specs import SeenSpec
from feast_pinot.windows import NO_SEEN_AGE, candidate_keys

__all__ = ["ObjectKeys", "Seen", "seen"]


@dataclass(frozen=True)
class ObjectKeys:
    """Each log action's object key as a dense code (-1: none), and each key's code."""

    codes: np.ndarray  # per log action
    index: dict[Any, int]

    @classmethod
    def of(cls, spec: SeenSpec, objects: np.ndarray, names: Sequence[Any]) -> ObjectKeys:
        """From each action's object as a code into ``names`` (-1: null), the distinct objects."""
        keys = np.array([spec.object_key(n) if isinstance(n, str) else None for n in names] + [None], dtype=object)
        key_codes, uniques = pd.factorize(keys)  # None: -1
        # -1 (a null object) picks the trailing None
        return cls(key_codes[objects], {key: code for code, key in enumerate(uniques)})

    def of_candidates(self, spec: SeenSpec, values: Sequence[Any]) -> np.ndarray:
        """Each row's candidate key as a code; -1 where missing, malformed or never acted on."""
        keys = candidate_keys(spec, values)
        assert keys is not None  # a spec is given
        return np.array([self.index.get(key, -1) for key in keys], dtype=np.int64)


@dataclass(frozen=True)
class Seen:
    """One (verb, seen window): per row, the actions on its candidate and the newest one's age."""

    counts: np.ndarray  # (rows,) int64
    ages: np.ndarray  # (rows,) int64, NO_SEEN_AGE without actions


def seen(ts: np.ndarray, actor: np.ndarray, keys: np.ndarray, verb_rows: np.ndarray,
         row_actor: np.ndarray, row_key: np.ndarray, firsts: list[np.ndarray], end: np.ndarray,
         now: np.ndarray) -> list[Seen]:
    """Per seen window, the seen features of every row for one verb.

    ``ts``, ``actor``, ``keys`` per log action (keys as :class:`ObjectKeys`
    codes), ``verb_rows`` the verb's actions (ascending log positions);
    ``row_actor`` each row's actor code (-1: none), ``row_key`` its candidate's
    key code, ``firsts`` each window's first log position and ``end`` the
    range's end (per row), ``now`` each row's ``request_ts``.
    """
    hits = verb_rows[keys[verb_rows] >= 0]
    if not len(hits):
        return [Seen(np.zeros(len(end), np.int64), np.full(len(end), NO_SEEN_AGE, np.int64)) for _ in firsts]
    width = int(keys.max()) + 1
    pairs, pair_of_hit = np.unique(actor[hits] * width + keys[hits], return_inverse=True)
    span = len(ts) + 1  # a pair's positions are pair * span + position: one sorted array
    order = np.sort(pair_of_hit.astype(np.int64) * span + hits)
    wanted = row_actor * width + row_key
    at = np.minimum(np.searchsorted(pairs, wanted), len(pairs) - 1)
    found = (row_actor >= 0) & (row_key >= 0) & (pairs[at] == wanted)
    base = np.where(found, at, 0) * span
    upper = np.searchsorted(order, base + end)
    out = []
    for first in firsts:
        counts = np.where(found, np.maximum(upper - np.searchsorted(order, base + first), 0), 0)
        # the newest hit is the range's last: the log is ascending in ts within an actor
        newest = np.clip(order[np.maximum(upper - 1, 0)] - base, 0, len(ts) - 1)
        ages = np.where(counts > 0, now - ts[newest], NO_SEEN_AGE)
        out.append(Seen(counts.astype(np.int64), ages.astype(np.int64)))
    return out
