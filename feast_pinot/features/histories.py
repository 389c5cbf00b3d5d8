"""Request-time feeding: histories as the online store returns them, to the families' arrays.

:func:`log_groups` is the offline counterpart: a whole log's actions, and
each group's history as of its own time.

A history is an actor's recent actions newest first (ts descending, ties by
ascending ``action_id``), embeddings as float32 bytes, a list or an array
(NaN where a read-time join found none). Each history becomes one actor's run
of :class:`~feast_pinot.features.base.Actions`, reversed into ascending time;
a group's history is the part of its actor's run at or before its request
time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feast_pinot.errors import FeastPinotError
from feast_pinot.features.base import Actions, Embeddings, Groups, bisect_right
from feast_pinot.features.inputs import KeyCodes, verb_codes
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["HistoryValues", "history_actions", "history_groups", "log_groups"]


@dataclass(frozen=True)
class HistoryValues:
    """One history's values, newest first, as a store or Feast hands them."""

    ts: Sequence[int] | None
    verbs: Sequence[str] | None
    embeddings: Any = None  # float32 bytes, a flat list or array; None without embeddings
    objects: Sequence[str] | None = None  # read for the seen features only


def history_actions(spec: WindowedFeaturesSpec, histories: Sequence[HistoryValues]) -> tuple[Actions, KeyCodes | None]:
    """The histories as one actor each (actor code = position), and the object-key codes if seen is declared."""
    ts = [np.asarray([] if h.ts is None else h.ts, dtype=np.int64)[::-1] for h in histories]
    lengths = np.array([len(t) for t in ts], dtype=np.int64)
    actor = np.repeat(np.arange(len(histories), dtype=np.int64), lengths)
    verbs = [v for h in histories for v in reversed(list([] if h.verbs is None else h.verbs))]
    if len(verbs) != int(lengths.sum()):
        raise FeastPinotError(f"history '{spec.history}' gave {len(verbs)} verbs for {int(lengths.sum())} actions")
    codes = verb_codes(spec, verbs)
    embeddings = _embeddings(spec, histories, lengths, codes) if spec.embedding_dim else None
    keys = None
    if spec.seen is not None:
        objects = [o for h, n in zip(histories, lengths.tolist()) for o in reversed(_objects(h, n))]
        keys = KeyCodes.of_objects(spec.seen, objects)
    all_ts = np.concatenate(ts) if ts else np.zeros(0, np.int64)
    return Actions(actor, all_ts, codes, embeddings, None if keys is None else keys.actions), keys


def history_groups(actions: Actions, actor: np.ndarray, now: np.ndarray) -> Groups:
    """Groups of (actor code, request time): each one's history is its actor's run up to ``now``."""
    start, run_end = actions.runs(actor)
    return Groups(actor, start, bisect_right(actions.ts, start, run_end, now), now)


def log_groups(actions: Actions, actor: np.ndarray, t: np.ndarray, now: np.ndarray, retention_ms: int,
               max_actions: int) -> Groups:
    """Groups of (actor code, time ``t``, request time ``now``) over a whole log.

    A group's history is its actor's actions with ``t - retention < ts <= t``,
    the newest ``max_actions`` of them (what the online store holds at ``t``),
    ending at the last one at or before ``now``.
    """
    begin, run_end = actions.runs(actor)
    hi = bisect_right(actions.ts, begin, run_end, t)
    start = np.maximum(hi - max_actions, bisect_right(actions.ts, begin, hi, t - retention_ms))
    end = np.minimum(hi, bisect_right(actions.ts, begin, run_end, now))
    return Groups(actor, start, end, now)


def _objects(history: HistoryValues, n: int) -> list[Any]:
    objects = [] if history.objects is None else list(history.objects)
    if len(objects) != n:
        raise FeastPinotError(f"a history gave {len(objects)} objects for {n} actions")
    return objects


def _embeddings(spec: WindowedFeaturesSpec, histories: Sequence[HistoryValues], lengths: np.ndarray,
                verbs: np.ndarray) -> Embeddings:
    dim = spec.embedding_dim
    parts = []
    at = 0
    for history, n in zip(histories, lengths.tolist()):
        parts.append(_rows(spec, history.embeddings, n, verbs[at:at + n])[::-1])
        at += n
    stored = np.concatenate(parts) if parts else np.zeros((0, dim))
    present = np.asarray(np.isfinite(stored).all(axis=1), dtype=bool)
    stored = np.where(present[:, None], stored, 0.0)
    return Embeddings(stored, np.arange(len(stored), dtype=np.int64), None if present.all() else present)


def _rows(spec: WindowedFeaturesSpec, flat: Any, n: int, verbs: np.ndarray) -> np.ndarray:
    """One history's embeddings as (n, dim) float64, newest first."""
    dim = spec.embedding_dim
    values = _floats(flat)
    if values is not None and values.size == n * dim:
        return values.reshape(n, dim)
    if not verbs.any():
        # No action of a verb the view reads has an embedding to give (e.g. Feast's
        # apply-time type inference, which sends one-element samples).
        return np.zeros((n, dim))
    size = "an odd number of bytes" if values is None else f"{values.size} embedding values"
    raise FeastPinotError(f"history '{spec.history}' gave {size} for {n} actions of dimension {dim}")


def _floats(flat: Any) -> np.ndarray | None:
    """Embeddings as float64: from float32 bytes (the history's form) or a list."""
    if flat is None:
        return np.zeros(0)
    if isinstance(flat, (bytes, bytearray, memoryview)):
        if len(flat) % 4:
            return None
        return np.frombuffer(flat, dtype="<f4").astype(np.float64)
    return np.asarray(flat, dtype=np.float64)
