"""Windowed features for training frames without materializing histories.

For a history whose log stores embeddings (or has none), every entity row's
windows are index ranges in the actor's actions sorted by (ts, action_id
descending): ``hi`` = actions at or before ``T``, the cap and retention move
the start to ``a = max(hi - cap, first after T - retention)``, and window
``w`` starts at ``max(a, first after T - w)``. Per-verb prefix sums of counts
and embeddings then give each window's count and mean in O(log n) per row,
in memory proportional to the log, not to rows x history length.

The result equals :func:`feast_pinot.windows.windowed_features` run on the
row's history (up to float rounding far below 1e-6).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast.repo_config import RepoConfig

from feast_pinot.offline_history import entity_frame, load_actions
from feast_pinot.specs import HistorySpec, WindowedFeaturesSpec
from feast_pinot.windows import verb_slug

__all__ = ["prefix_windowed_columns"]

_TS_BITS = 42  # ~139 years of milliseconds per actor in one int64 sort key


def _sorted_log(table: pa.Table, actor_codes: pd.Index, dim: int) -> dict[str, np.ndarray]:
    actors = actor_codes.get_indexer(table.column("actor").to_pandas())
    ts = table.column("ts").to_numpy().astype(np.int64)
    ids = table.column("action_id").to_numpy(zero_copy_only=False)
    id_rank = np.unique(ids, return_inverse=True)[1]
    order = np.lexsort((-id_rank, ts, actors))  # actor, ts ascending, ties action_id descending
    log = {"actor": actors[order], "ts": ts[order],
           "verb": table.column("verb").to_numpy(zero_copy_only=False)[order]}
    if dim:
        flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        log["embedding"] = flat.reshape(-1, dim)[order].astype(np.float64)
    return log


def _keys(actor: np.ndarray, ts: np.ndarray, base: int) -> np.ndarray:
    return (actor.astype(np.int64) << _TS_BITS) | (ts - base)


def _bounds(log: dict[str, np.ndarray], rows: pd.DataFrame, request_ts: np.ndarray, actor_codes: pd.Index,
            hspec: HistorySpec, wspec: WindowedFeaturesSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per window, the [start, end) index range of every row's actions.

    The history is as of the row's time ``t`` (cap and retention); each window
    ends at the row's ``request_ts``, exactly as the online path reads it.
    """
    t = rows["t"].to_numpy()
    code = actor_codes.get_indexer(rows["actor"])
    longest = max([hspec.log.retention_ms] + [w.length_ms for w in wspec.windows])
    low = min(int(t.min(initial=0)), int(request_ts.min(initial=0))) - longest
    base = min(int(log["ts"].min(initial=0)), low) - 1
    keys = _keys(log["actor"], log["ts"], base)

    def upto(ms: np.ndarray) -> np.ndarray:  # index after the actor's last action at or before ms
        return np.searchsorted(keys, _keys(code, ms, base), side="right")

    hi = upto(t)
    start = np.maximum(hi - hspec.max_actions, upto(t - hspec.log.retention_ms))
    end = np.minimum(hi, upto(request_ts))
    ranges = []
    for window in wspec.windows:
        first = np.maximum(start, upto(request_ts - window.length_ms))
        last = np.maximum(first, end)
        no_actions = code < 0
        ranges.append((np.where(no_actions, 0, first), np.where(no_actions, 0, last)))
    return ranges


def _candidates(values: list[Any], dim: int) -> np.ndarray:
    out = np.zeros((len(values), dim))
    for i, value in enumerate(values):
        if value is not None and not (isinstance(value, float) and np.isnan(value)) and len(value) == dim:
            out[i] = value
    return out


def prefix_windowed_columns(
    config: RepoConfig,
    hspec: HistorySpec,
    wspec: WindowedFeaturesSpec,
    rows: pd.DataFrame,
    ts_column: str,
    request_ts: np.ndarray,
    candidates: list[Any] | None,
    wanted: list[str],
) -> dict[str, Any]:
    """The ``wanted`` windowed features of every entity row, in row order."""
    entities = entity_frame(rows, hspec.log.actor_join_key, ts_column, hspec.log.actor_is_int)
    table = load_actions(config, hspec, entities[["actor"]])
    dim = wspec.embedding_dim
    if table is None or table.num_rows == 0:
        table = pa.table({"actor": entities["actor"].iloc[:0], "ts": pa.array([], pa.int64()),
                          "action_id": pa.array([], pa.string()), "verb": pa.array([], pa.string()),
                          **({"embedding": pa.array([], pa.list_(pa.float32()))} if dim else {})})
    actor_codes = pd.Index(pd.unique(table.column("actor").to_pandas()))
    log = _sorted_log(table, actor_codes, dim)
    ranges = _bounds(log, entities, request_ts.astype(np.int64), actor_codes, hspec, wspec)
    cand = _candidates(candidates, dim) if dim and candidates is not None else None
    out: dict[str, Any] = {}
    for verb in wspec.verbs:
        out.update(_verb_columns(wspec, verb, log, ranges, cand))
    return {name: out[name] for name in wanted}


def _verb_columns(wspec: WindowedFeaturesSpec, verb: str, log: dict[str, np.ndarray],
                  ranges: list[tuple[np.ndarray, np.ndarray]], cand: np.ndarray | None) -> dict[str, Any]:
    is_verb = log["verb"] == verb
    counts = np.concatenate([[0], np.cumsum(is_verb)])
    sums = None
    if wspec.embedding_dim:
        sums = np.vstack([np.zeros(wspec.embedding_dim),
                          np.cumsum(log["embedding"] * is_verb[:, None], axis=0)])
    out: dict[str, Any] = {}
    stem = verb_slug(verb)
    for window, (start, end) in zip(wspec.windows, ranges):
        n = counts[end] - counts[start]
        out[f"{stem}_count_{window.label}"] = n.astype(np.int64)
        if sums is not None:
            means = np.divide(sums[end] - sums[start], n[:, None], out=np.zeros((len(n), wspec.embedding_dim)),
                              where=n[:, None] > 0)
            out[f"{stem}_mean_emb_{window.label}"] = list(means.astype(np.float32))
            out[f"{stem}_sim_{window.label}"] = _cosines(means, cand)
    return out


def _cosines(means: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
    if cand is None:
        return np.zeros(len(means))
    norms = np.linalg.norm(means, axis=1) * np.linalg.norm(cand, axis=1)
    return np.divide((means * cand).sum(axis=1), norms, out=np.zeros(len(means)), where=norms > 0)
