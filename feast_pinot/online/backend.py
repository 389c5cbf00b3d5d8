"""The storage contract every online backend implements, in plain Python types.

The Feast adapter (:mod:`feast_pinot.online.adapter`) and the ranking read
(:mod:`feast_pinot.online.windowed_read`) speak Feast protos; a backend sees table names, string keys, python values and
:class:`~feast_pinot.actions.Action` records. One contract test suite runs
against every implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from feast_pinot.actions import Action
from feast_pinot.specs import HistoryWindow  # re-exported: part of the contract

__all__ = ["History", "HistoryWindow", "LatestRow", "OnlineBackend", "TableSpec", "table_name"]


def table_name(project: str, view_name: str) -> str:
    """The backend table of a feature view."""
    return f"{project}_{view_name}"


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table to create: ``latest`` keeps one row per key, ``actions`` appends."""

    name: str
    kind: Literal["latest", "actions"]
    columns: tuple[tuple[str, str], ...] = ()  # (feature, Feast type) for typed backends
    actor_is_int: bool = False
    embedding_dim: int = 0
    retention_ms: int = 0  # of an action log: what the backend may drop after that age


@dataclass(frozen=True, slots=True)
class LatestRow:
    key: str  # hex of Feast's serialized entity key
    event_ms: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class History:
    """One actor's actions, newest first (ties: ascending ``action_id``)."""

    action_ids: tuple[str, ...]
    ts_ms: tuple[int, ...]
    verbs: tuple[str, ...]
    objects: tuple[str, ...]
    embeddings: np.ndarray | None  # (n, dim) float32 when the log stores embeddings


@runtime_checkable
class ChecksActions(Protocol):
    """An online store that refuses some valid actions (values it would alter or could not match).

    ``push_actions`` asks it before writing anywhere, so a push it would refuse
    leaves the offline log untouched too.
    """

    def check_actions(self, store_config: Any, actions: Sequence[Action]) -> None:
        """Raise an :class:`~feast_pinot.errors.ActionValidationError` naming every action refused."""


class OnlineBackend(Protocol):
    def create_tables(self, tables: Sequence[TableSpec]) -> None:
        """Create what is missing; existing tables are left as they are."""

    def drop_tables(self, tables: Sequence[TableSpec]) -> None:
        """Drop the tables; missing ones are ignored."""

    def write_latest(self, table: str, rows: Sequence[LatestRow]) -> None:
        """Upsert: a row replaces the stored one unless that one is newer."""

    def read_latest(self, table: str, keys: Sequence[str]) -> list[LatestRow | None]:
        """One entry per key, in order; None where nothing is stored."""

    def append_actions(self, table: str, actions: Sequence[Action], keep: HistoryWindow) -> int:
        """Append, ignoring ``action_id``s already written; return how many were new.

        An ``action_id`` counts once, whatever actor a later copy names: the
        first copy written wins, also after it was trimmed (Pinot forgets the
        ids of the segments its retention deletes). ``keep`` is what a
        read now would return (the retention up to now, the cap). Reads pinned
        anywhere within that retention (backtests) must still find their whole
        history, so the backend may delete only actions older than twice the
        retention (at or before ``keep.since_ms - (keep.until_ms - keep.since_ms)``),
        and never by the cap.
        """

    def read_histories(
        self, table: str, actors: Sequence[int | str], window: HistoryWindow
    ) -> list[History]:
        """One :class:`History` per actor, in order."""

    def close(self) -> None: ...
