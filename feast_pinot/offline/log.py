"""The DuckDB engine's loader: an action log's Parquet parts to the engine's arrays.

The first written copy of an ``action_id`` counts, in the whole log, whoever
the actor: the smallest (part in write order, row in part), found before the
requested actors are picked, so the ``entity_df`` cannot change which copy
counts (offline.history and the online stores apply the same rule).

An embedding that is not finite cannot reach the log through any of the
project's writers (they refuse it, as the online stores do); one found in a
part (a corrupt file, another writer) is skipped with its action, before the
dedup, and logged with the part's name: online, that action was refused.

Embeddings stay out of the sort: every part's embeddings are read into one
array in file order, and each action points at its row there.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from feast.repo_config import RepoConfig

from feast_pinot.errors import OfflineStoreError
from feast_pinot.features import Embeddings
from feast_pinot.offline.duckdb import epoch_ms_sql, session, sql_literal
from feast_pinot.offline.engine import ActionLog, empty_log
from feast_pinot.offline.history import log_files
from feast_pinot.specs import HistorySpec

__all__ = ["LogCache", "load_log"]

log = logging.getLogger(__name__)


class LogCache:
    """Each history's log, read once per training-data call for all its windowed views.

    ``with_objects``: the histories some view of which declares seen features.
    """

    def __init__(self, config: RepoConfig, with_objects: set[str]) -> None:
        self._config, self._with_objects = config, with_objects
        self._found: dict[str, ActionLog] = {}

    def of(self, spec: HistorySpec, actors: pd.DataFrame) -> ActionLog:
        """The log of ``spec``'s actions by ``actors`` (the same entity rows in every call)."""
        if spec.name not in self._found:
            self._found[spec.name] = load_log(self._config, spec, actors, spec.name in self._with_objects)
        return self._found[spec.name]


def _narrow_sql(spec: HistorySpec, files: list[str], objects: bool, skipped: bool) -> str:
    file_list = "[" + ", ".join(map(sql_literal, files)) + "]"
    verb_list = "[" + ", ".join(map(sql_literal, spec.log.verbs)) + "]"
    obj, arg_obj, out_obj = ("object, ", "arg_min(object, pos) AS object, ", ", object") if objects else ("", "", "")
    where = "WHERE pos NOT IN (SELECT pos FROM skipped)" if skipped else ""
    return f"""
        WITH raw AS (
            SELECT "{spec.log.actor_join_key}" AS actor, action_id, {obj}{epoch_ms_sql("event_timestamp")} AS ts,
                   coalesce(list_position({verb_list}, verb), 0) AS verb_no,
                   ((list_position({file_list}, filename) - 1)::BIGINT << 32) + file_row_number AS pos
            FROM read_parquet({file_list}, filename = true, file_row_number = true, union_by_name = true)),
        unique_actions AS (
            SELECT action_id, arg_min(actor, pos) AS actor, arg_min(ts, pos) AS ts, {arg_obj}
                   arg_min(verb_no, pos) AS verb_no, min(pos) AS pos
            FROM raw {where} GROUP BY action_id)
        SELECT actor, ts, verb_no, pos{out_obj}
        FROM unique_actions WHERE actor IN (SELECT DISTINCT actor FROM actors)
        ORDER BY actor, ts, action_id DESC
    """


def _stored_embeddings(files: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """All parts' embeddings in file order, and the first row of each file."""
    parts = [pq.ParquetFile(f) for f in files]  # opened once: row counts first, then the column
    offsets = np.concatenate([[0], np.cumsum([part.metadata.num_rows for part in parts])]).astype(np.int64)
    # each file's values land straight in their slice: no concatenated copy
    out = np.empty((int(offsets[-1]), dim), np.float32)

    def fill(number: int) -> None:
        column = parts[number].read(columns=["embedding"]).column("embedding")
        row = int(offsets[number])
        for chunk in column.chunks:
            values = chunk.flatten().to_numpy(zero_copy_only=False)
            if len(values) != len(chunk) * dim:
                raise OfflineStoreError(f"{files[number]}: embeddings of a length other than {dim}")
            out[row:row + len(chunk)] = values.reshape(-1, dim)
            row += len(chunk)

    with ThreadPoolExecutor() as pool:  # one row group per part: parallel across files
        list(pool.map(fill, range(len(files))))
    return out, offsets


def _non_finite(stored: np.ndarray, offsets: np.ndarray, files: list[str]) -> pd.DataFrame:
    """The positions (part << 32 | row) of rows with a value that is not finite; each part is logged."""
    bad = np.flatnonzero(~np.isfinite(stored).all(axis=1))
    part = np.searchsorted(offsets, bad, side="right") - 1
    for number in np.unique(part).tolist():
        rows = bad[part == number] - offsets[number]
        ids = pq.read_table(files[number], columns=["action_id"]).column("action_id").take(pa.array(rows[:3]))
        log.warning("skipped %d action(s) of %s whose embedding is not finite (NaN or infinite), e.g. %s; "
                    "the online stores refuse such actions", len(rows), files[number], ids.to_pylist())
    return pd.DataFrame({"pos": (part.astype(np.int64) << 32) + (bad - offsets[part])})


def load_log(config: RepoConfig, spec: HistorySpec, actors: pd.DataFrame, objects: bool) -> ActionLog:
    """The actions of ``actors`` (a frame with column ``actor``); ``objects``: with their objects."""
    files = log_files(config, spec)
    if not files or actors.empty:
        return empty_log(spec, objects)
    dim = spec.log.embedding_dim
    stored = offsets = None
    skipped = pd.DataFrame({"pos": np.zeros(0, np.int64)})
    if dim:
        stored, offsets = _stored_embeddings(files, dim)
        skipped = _non_finite(stored, offsets, files)
    with session(f"reading action log '{spec.log.name}'") as con:
        con.register("actors", actors)
        con.register("skipped", skipped)
        table = con.sql(_narrow_sql(spec, files, objects, len(skipped) > 0)).to_arrow_table()
    pos = table.column("pos").to_numpy()
    embeddings = None
    if stored is not None and offsets is not None:
        embeddings = Embeddings(stored, offsets[pos >> 32] + (pos & 0xFFFFFFFF))
    return ActionLog.of_sorted(table, spec.log.verbs, embeddings)
