"""What runs inside the Spark tasks: Arrow tables in, the engine's arrays, Arrow tables out.

No pyspark here: Spark pickles these callables to the executors, and they
run the same code the DuckDB engine runs (:func:`windowed_columns`, the
windowed ODFV body), on one group of entity rows and the actions they can
see.

* :class:`LogTask`: one (actor bucket, time slab) group: its rows and its
  actors' actions. The actions are sorted here, by (actor, ts, ``action_id``
  descending), since Spark hands a group's rows in no particular order; the
  engine restarts its sums at every actor, so which actors share a group
  changes no value.
* :class:`RowTask`: histories with a read-time attribute join. Each row's
  rebuilt history (its actions, and the attribute of each as of the row's
  time) runs through the view's own body, as the DuckDB engine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feast_pinot.features import Actions, Embeddings, windowed_features
from feast_pinot.features.histories import log_groups
from feast_pinot.offline.engine import ActionLog, EntityRows, windowed_columns
from feast_pinot.specs import HISTORY_FEATURES, HistorySpec, WindowedFeaturesSpec

__all__ = ["LogTask", "RowTask", "ViewAsk", "history_arrays", "list_type"]

ROW = "row_id"
_LOG_COLUMN = {"action_verbs": "verb", "action_objects": "object"}  # history lists read from the log as stored


@dataclass(frozen=True)
class ViewAsk:
    """One windowed view of a task: its spec, the outputs asked for, and their column names."""

    spec: WindowedFeaturesSpec
    wanted: tuple[str, ...]
    columns: tuple[str, ...]  # output column of each wanted name
    index: int  # the view's number: its rows' inputs are columns ``request_ts_<index>``, ...


def list_type(value: str) -> pa.DataType:
    """The Arrow type of an output of value type ``value``."""
    return {"int": pa.int64(), "float": pa.float64(), "vector": pa.list_(pa.float32())}[value]


def _sorted_log(actions: pa.Table, hspec: HistorySpec) -> tuple[ActionLog, pa.Table]:
    table = actions.sort_by([("actor", "ascending"), ("ts", "ascending"), ("action_id", "descending")])
    embeddings = None
    dim = hspec.log.embedding_dim
    if dim and "embedding" in table.column_names:  # read only for the views and the lists that use them
        flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        stored = np.asarray(flat, np.float32).reshape(-1, dim)
        embeddings = Embeddings(stored, np.arange(table.num_rows, dtype=np.int64))
    return ActionLog.of_sorted(table, hspec.log.verbs, embeddings), table


def _values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    return column.to_pylist()


def _entity_rows(rows: pa.Table, log: ActionLog, ask: ViewAsk | None) -> EntityRows:
    actor = rows.column("actor").to_numpy()
    t = rows.column("t").to_numpy()
    if ask is None:
        return EntityRows(actor, t, t)
    i = ask.index
    names = rows.column_names
    candidates = rows.column(f"candidate_{i}") if f"candidate_{i}" in names else None
    keys = _values(rows.column(f"key_{i}")) if f"key_{i}" in names else None
    return EntityRows(actor, t, rows.column(f"request_ts_{i}").to_numpy(), candidates, keys)


def history_arrays(table: pa.Table, log: ActionLog, hspec: HistorySpec, rows: pa.Table,
                   wanted: tuple[str, ...]) -> dict[str, pa.Array]:
    """Each row's history as of its time (newest first, at most ``max_actions``): the ``wanted`` lists."""
    actor = log.actors.get_indexer(rows.column("actor").to_numpy()).astype(np.int64)
    t = rows.column("t").to_numpy().astype(np.int64)
    actions = Actions(log.actor, log.ts, log.verb)
    groups = log_groups(actions, actor, t, t, hspec.log.retention_ms, hspec.max_actions)
    lengths = np.maximum(groups.end - groups.start, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # newest first: each range [start, end) read backwards from end - 1
    index = np.repeat(groups.end - 1 + offsets[:-1], lengths) - np.arange(offsets[-1], dtype=np.int64)
    taken = pa.array(index, pa.int64())
    out: dict[str, pa.Array] = {}
    for name in wanted:
        if name == "action_embeddings":
            out[name] = embedding_bytes(table.column("embedding").combine_chunks().take(taken), lengths,
                                        hspec.embedding_dim)
            continue
        if name == "action_ts":
            values = pa.array(log.ts[index], pa.int64())
        else:
            values = table.column(_LOG_COLUMN[name]).combine_chunks().take(taken)
        out[name] = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
    return out


def embedding_bytes(embeddings: pa.Array, lengths: np.ndarray, dim: int) -> pa.Array:
    """Each row's embeddings (``lengths`` actions of ``dim`` floats, in order) as float32 bytes."""
    flat = np.asarray(embeddings.flatten().to_numpy(zero_copy_only=False), "<f4") if len(embeddings) else \
        np.zeros(0, "<f4")
    offsets = (np.concatenate([[0], np.cumsum(lengths)]) * dim * 4).astype(np.int32)
    return pa.BinaryArray.from_buffers(pa.binary(), len(lengths), [None, pa.py_buffer(offsets.tobytes()),
                                                                    pa.py_buffer(flat.tobytes())])


@dataclass(frozen=True)
class LogTask:
    """One (actor bucket, time slab) group: the windowed views of one history, and its lists if asked.

    Called by ``cogroup(...).applyInArrow`` with the group's entity rows and
    actions; returns ``row_id`` and the outputs of the rows.
    """

    hspec: HistorySpec
    views: tuple[ViewAsk, ...]
    lists: tuple[str, ...]  # history features asked for (empty: none)
    schema: pa.Schema

    def __call__(self, rows: pa.Table, actions: pa.Table) -> pa.Table:
        if rows.num_rows == 0:
            return self.schema.empty_table()
        log, table = _sorted_log(actions, self.hspec)
        columns: dict[str, Any] = {ROW: rows.column(ROW)}
        if self.lists:
            columns |= history_arrays(table, log, self.hspec, rows, self.lists)
        for ask in self.views:
            computed = windowed_columns(log, self.hspec, ask.spec, _entity_rows(rows, log, ask), list(ask.wanted))
            for name, column in zip(ask.wanted, ask.columns):
                columns[column] = _arrow(computed[name])
        return pa.table({field.name: columns[field.name] for field in self.schema}, schema=self.schema)


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    """A computed column (numpy, or an Arrow-backed list column) as Arrow."""
    return pa.array(values)


@dataclass(frozen=True)
class RowTask:
    """Rows of a history with a read-time attribute join: each row's own history through the view's body.

    Called by ``cogroup(...).applyInArrow`` with rows (``row_id``,
    ``action_ts``, ``action_verbs``, ``action_objects``, the views' inputs)
    and their actions' attributes (``row_id``, ``i``: position in the
    history, ``embedding``: null where none was found as of the row's time).
    """

    hspec: HistorySpec
    views: tuple[ViewAsk, ...]
    lists: tuple[str, ...]
    schema: pa.Schema

    def __call__(self, rows: pa.Table, attributes: pa.Table) -> pa.Table:
        if rows.num_rows == 0:
            return self.schema.empty_table()
        rows = rows.sort_by(ROW)
        embeddings = self._embeddings(rows, attributes)
        columns: dict[str, Any] = {ROW: rows.column(ROW), "action_embeddings": embeddings}
        for name in HISTORY_FEATURES[:3]:
            columns[name] = rows.column(name)
        out = {name: columns[name] for name in (ROW, *self.lists)}
        history = self.hspec.name
        lists = {f"{history}__{f}": columns[f].to_pylist() for f in HISTORY_FEATURES[:3]}
        lists[f"{history}__action_embeddings"] = embeddings.to_pylist()
        for ask in self.views:
            inputs: dict[str, list[Any]] = {**lists, ask.spec.request_field: _values(
                rows.column(f"request_ts_{ask.index}"))}
            if ask.spec.candidate:
                inputs[ask.spec.candidate] = _values(rows.column(f"candidate_{ask.index}"))
            if ask.spec.seen is not None:
                inputs[ask.spec.seen.candidate_key] = _values(rows.column(f"key_{ask.index}"))
            computed = windowed_features(inputs, ask.spec.model_dump_json())
            for name, column in zip(ask.wanted, ask.columns):
                out[column] = pa.array(computed[name], self.schema.field(column).type)
        return pa.table({field.name: out[field.name] for field in self.schema}, schema=self.schema)

    def _embeddings(self, rows: pa.Table, attributes: pa.Table) -> pa.Array:
        """Each row's joined attributes in history order, NaN where none: float32 bytes."""
        dim = self.hspec.embedding_dim
        lengths = pc.list_value_length(rows.column("action_ts")).to_numpy().astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        values = np.full((int(offsets[-1]), dim), np.nan, np.float32)
        if attributes.num_rows:
            row_index = np.searchsorted(rows.column(ROW).to_numpy(), attributes.column(ROW).to_numpy())
            at = offsets[row_index] + attributes.column("i").to_numpy()
            found = attributes.column("embedding").combine_chunks()
            ok = pc.fill_null(pc.equal(pc.list_value_length(found), dim), False).to_numpy(zero_copy_only=False)
            if ok.any():
                values[at[ok]] = np.asarray(found.filter(pa.array(ok)).flatten().to_numpy(zero_copy_only=False),
                                            np.float32).reshape(-1, dim)
        return embedding_bytes(pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), dim)
                               if dim else pa.array([], pa.list_(pa.float32())), lengths, dim)
