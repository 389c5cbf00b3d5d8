"""Histories read from a backend, with their read-time attribute join, in plain values.

The one reader of histories online: the Feast adapter (Feast's generic path,
``online_read`` of a history view) and the ranking read
(:mod:`feast_pinot.online.windowed_read`) both call :class:`HistoryReader`,
so a history is the same whichever path serves it. It speaks no Feast:
actors are plain values, and the attribute view's keys are built by a
function the adapter gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from feast_pinot.attribute_dims import warn_wrong_dims
from feast_pinot.online.backend import History, LatestRow, OnlineBackend, table_name
from feast_pinot.specs import AttributeJoinSpec, HistorySpec

__all__ = ["AttributeKey", "HistoryReader"]

# (the attribute view's join key, the key value) -> the backend's key of that row
AttributeKey = Callable[[str, int | str], str]


class HistoryReader:
    """Reads the histories of one project's action logs from a backend."""

    def __init__(self, backend: OnlineBackend, project: str, attribute_key: AttributeKey) -> None:
        self._backend, self._project, self._attribute_key = backend, project, attribute_key

    def read(self, spec: HistorySpec, actors: Sequence[int | str | None], now_ms: int) -> list[History]:
        """One history per actor as of ``now_ms`` (retention and cap); an actor of None has none."""
        known = [a for a in actors if a is not None]
        found = iter(self._backend.read_histories(table_name(self._project, spec.log.name), known,
                                                  spec.window(now_ms)))
        dim = spec.embedding_dim if spec.log.embedding_dim else 0
        empty = History((), (), (), (), np.zeros((0, dim), np.float32) if dim else None)
        histories = [empty if a is None else next(found) for a in actors]
        if spec.attribute is not None:
            histories = self._join(spec, spec.attribute, histories)
        return histories

    def _join(self, spec: HistorySpec, attr: AttributeJoinSpec, histories: list[History]) -> list[History]:
        """Each action's attribute, latest as of now; NaN where its object has none."""
        objects = sorted({obj for h in histories for obj in h.objects})
        keyed = {obj: key for obj in objects if (key := attr.object_key(obj)) is not None}
        present = [obj for obj in objects if obj in keyed]
        keys = [self._attribute_key(attr.join_key, keyed[obj]) for obj in present]
        rows = self._backend.read_latest(table_name(self._project, attr.feature_view), keys)
        dim = spec.embedding_dim
        warn_wrong_dims(spec, (len(v) for row in rows if row is not None and (v := row.values.get(attr.feature))))
        vectors = {obj: _vector(row, attr.feature, dim) for obj, row in zip(present, rows)}
        return [_with_embeddings(h, [vectors.get(o) for o in h.objects], dim) for h in histories]


def _vector(row: LatestRow | None, feature: str, dim: int) -> np.ndarray | None:
    value = None if row is None else row.values.get(feature)
    if value is None or len(value) != dim:
        return None  # missing or malformed attribute: the action gets no embedding
    return np.asarray(value, dtype=np.float32)


def _with_embeddings(history: History, vectors: list[np.ndarray | None], dim: int) -> History:
    missing = np.full(dim, np.nan, dtype=np.float32)
    rows = [missing if v is None else v for v in vectors]
    embeddings = np.vstack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return History(history.action_ids, history.ts_ms, history.verbs, history.objects, embeddings)
