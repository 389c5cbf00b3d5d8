"""The training-data engine: an action log and entity rows as arrays in, feature columns out.

It knows no storage and no cluster. The DuckDB engine
(:mod:`feast_pinot.offline.log`) hands it a whole log read from Parquet parts;
the Spark engine hands it one bucket of actors at a time, inside a task. Both
give it the same arrays, so both get the same bits:

* :class:`ActionLog`: an action log's actions (deduplicated: the first written
  copy of each ``action_id``) sorted by (actor, ts, ``action_id`` descending);
* :class:`EntityRows`: each entity row's actor, time ``t``, ``request_ts``,
  candidate embedding and candidate key.

Rows sharing (actor, ``t``, ``request_ts``), the candidates of one ranking
instant, are one group (:class:`SharedRows`): the member-level work is done
once per group. A group's history is the log's actions as of ``t``
(:func:`feast_pinot.features.histories.log_groups`), and the families of
:mod:`feast_pinot.features` compute everything from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from feast_pinot.features import Actions, Embeddings, Rows, compute, output_names
from feast_pinot.features.histories import log_groups
from feast_pinot.features.inputs import KeyCodes, candidate_matrix
from feast_pinot.specs import HistorySpec, WindowedFeaturesSpec

__all__ = ["ActionLog", "EntityRows", "SharedRows", "empty_log", "list_column", "windowed_columns"]


@dataclass(frozen=True)
class ActionLog:
    """A log's actions of some actors, deduplicated and sorted by (actor, ts, ``action_id`` descending)."""

    actors: pd.Index  # the actor value of each code
    actor: np.ndarray  # (n,) int64 code, ascending
    ts: np.ndarray  # (n,) int64 epoch ms
    verb: np.ndarray  # (n,) int64: 1-based position in the log's verbs, 0 for any other
    verbs: tuple[str, ...]  # the log's verbs
    embeddings: Embeddings | None = None
    objects: pa.DictionaryArray | None = None  # each action's object, read for the seen features only

    @classmethod
    def of_sorted(cls, table: pa.Table, verbs: tuple[str, ...], embeddings: Embeddings | None) -> ActionLog:
        """From a table already sorted by (actor, ts, ``action_id`` descending).

        Columns ``actor``, ``ts``, ``verb_no`` (and ``object`` for the seen
        features). The DuckDB loader sorts in SQL; a Spark task sorts its
        bucket's actions with Arrow.
        """
        actor = table.column("actor").to_numpy()
        first = np.flatnonzero(np.r_[True, actor[1:] != actor[:-1]]) if len(actor) else np.zeros(0, np.int64)
        codes = np.repeat(np.arange(len(first), dtype=np.int64), np.diff(np.r_[first, len(actor)]))
        objects = None
        if "object" in table.column_names:
            objects = table.column("object").combine_chunks().dictionary_encode()
        return cls(pd.Index(actor[first]), codes, table.column("ts").to_numpy(),
                   table.column("verb_no").to_numpy().astype(np.int64), verbs, embeddings, objects)

    def for_view(self, spec: WindowedFeaturesSpec) -> tuple[Actions, KeyCodes | None]:
        """The actions with verbs numbered as ``spec.read_verbs``, and the object keys if seen is declared."""
        remap = np.array([0] + [spec.read_verbs.index(v) + 1 if v in spec.read_verbs else 0 for v in self.verbs],
                         np.int64)
        keys = None
        if spec.seen is not None:
            assert self.objects is not None, "a view with seen features reads the log with its objects"
            keys = KeyCodes.of_arrow(spec.seen, self.objects)
        return Actions(self.actor, self.ts, remap[self.verb], self.embeddings,
                       None if keys is None else keys.actions), keys


@dataclass(frozen=True)
class EntityRows:
    """The entity rows as the engine needs them, in row order."""

    actor: np.ndarray  # (r,) actor values
    t: np.ndarray  # (r,) int64 epoch ms: the row's time (what the history is as of)
    request_ts: np.ndarray  # (r,) int64 epoch ms
    candidates: pa.Array | pa.ChunkedArray | Sequence[Any] | None = None  # the candidate embeddings
    candidate_keys: Sequence[Any] | None = None  # the candidates' keys (seen features)


@dataclass(frozen=True)
class SharedRows:
    """Entity rows grouped by (actor, time, request_ts): the rows of one ranking instant."""

    group: np.ndarray  # each row's group
    first: np.ndarray  # each group's first row
    order: np.ndarray  # rows sorted by group (stable)
    starts: np.ndarray  # where each group's rows begin in ``order`` (one extra at the end)

    @classmethod
    def of(cls, entities: pd.DataFrame, request_ts: np.ndarray) -> SharedRows:
        group = _codes(_codes(entities["actor"].to_numpy(), entities["t"].to_numpy()), request_ts)
        order = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[order], np.arange(int(group.max(initial=-1)) + 2))
        return cls(group, order[starts[:-1]], order, starts)

    @property
    def groups(self) -> int:
        return len(self.first)


def _codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense codes of the pairs (a, b), numbered in order of first appearance."""
    first, _ = pd.factorize(a)
    second, seconds = pd.factorize(b)
    # below 2**63 for any frame under ~3e9 rows: codes are < rows
    pairs, _ = pd.factorize(first.astype(np.int64) * len(seconds) + second)
    return pairs.astype(np.int64)


def windowed_columns(log: ActionLog, hspec: HistorySpec, wspec: WindowedFeaturesSpec, entities: EntityRows,
                     wanted: Sequence[str]) -> dict[str, Any]:
    """The ``wanted`` outputs of ``wspec`` for every entity row, in row order.

    Scalars are numpy arrays; vectors are Arrow-backed list columns (float32).
    """
    actions, keys = log.for_view(wspec)
    shared = SharedRows.of(pd.DataFrame({"actor": entities.actor, "t": entities.t}), entities.request_ts)
    row_actor = log.actors.get_indexer(entities.actor).astype(np.int64)
    first = shared.first
    groups = log_groups(actions, row_actor[first], entities.t[first], entities.request_ts[first],
                        hspec.log.retention_ms, hspec.max_actions)
    candidates = None
    if wspec.candidate and wspec.embedding_dim and entities.candidates is not None:
        candidates = candidate_matrix(entities.candidates, wspec.embedding_dim)
    row_keys = None
    if wspec.seen is not None and keys is not None:
        row_keys = keys.candidates(wspec.seen, entities.candidate_keys or [None] * len(entities.t))
    computed = compute(wspec, actions, groups, Rows(shared.group, candidates, row_keys), wanted)
    outputs = output_names(wspec)
    out: dict[str, Any] = {}
    for name in wanted:
        output = outputs[name]
        if output.value == "vector":
            out[name] = list_column(computed.values[name].astype(np.float32)[shared.group])
        else:
            out[name] = computed.column(name, output).astype(np.int64 if output.value == "int" else np.float64)
    return out


def list_column(vectors: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """(rows, dim) float32 as an Arrow-backed column of float32 lists (no per-row Python lists)."""
    flat = pa.array(vectors.ravel())
    lists = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]).cast(pa.list_(pa.float32()))
    return pd.arrays.ArrowExtensionArray(lists)


def empty_log(hspec: HistorySpec, objects: bool) -> ActionLog:
    """A log without actions."""
    none = np.zeros(0, np.int64)
    dim = hspec.log.embedding_dim
    embeddings = Embeddings(np.zeros((0, dim), np.float32), none) if dim else None
    return ActionLog(pd.Index([]), none, none, none, hspec.log.verbs, embeddings,
                     pa.array([], pa.string()).dictionary_encode() if objects else None)
