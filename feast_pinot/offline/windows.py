"""Windowed features for training frames without materializing histories.

For a history whose log stores embeddings (or has none), every entity row's
history is an index range in the actor's actions sorted by (ts, action_id
descending): ``hi`` = actions at or before ``T``, the cap and retention move
the start to ``start = max(hi - cap, first after T - retention)``, the range
ends at ``end = min(hi, last at request_ts)`` (:class:`Bounds`), and window
``w`` is ``[max(start, first after request_ts - w), end)``.
Per-verb prefix sums of counts and embeddings then give each window's count
and mean in O(log n) per row, in memory proportional to the log, not to
rows x history length. The embedding sums restart at every actor, so no value
of one actor (even a NaN or a huge float planted in a Parquet part) reaches
another actor's windows. Rows sharing (actor, time, ``request_ts``) - the
candidates of one ranking instant - share their bounds, counts and means;
each row adds only its candidate's similarity.

The other families read the same ranges: decayed counts and means per group
(:mod:`feast_pinot.offline.decay`), seen counts and ages per row for its
candidate key over each seen window (:mod:`feast_pinot.offline.seen`), and the
interests per group from the range's actions in history order, the sorted
order reversed (:mod:`feast_pinot.offline.interests`).

The result equals :func:`feast_pinot.windows.windowed_features` run on the
row's history (up to float rounding far below 1e-9; counts, ages and clusters
exactly).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from feast.repo_config import RepoConfig

from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline.decay import decayed
from feast_pinot.offline.duckdb import epoch_ms_sql, session, sql_literal
from feast_pinot.offline.history import entity_frame, log_files
from feast_pinot.offline.interests import group_interests
from feast_pinot.offline.seen import ObjectKeys, seen
from feast_pinot.specs import HistorySpec, InterestsSpec, SeenSpec, WindowedFeaturesSpec
from feast_pinot.windows import output_names, verb_slug

__all__ = ["Bounds", "SharedRows", "SortedLog", "SortedLogs", "candidate_matrix", "load_sorted_log",
           "prefix_windowed_columns"]

_TS_BITS = 42  # ~139 years of milliseconds per actor in one int64 sort key
# Rows per block of the per-row arithmetic: temporaries of a few MB stay in
# cache and are reused by malloc; whole-frame temporaries are fresh mappings
# whose first touch (page faults) cost more than the arithmetic itself.
_BLOCK = 16_384


@dataclass(frozen=True)
class SortedLog:
    """Deduplicated actions ordered by actor, ts, then action_id descending."""

    actors: pd.Index  # actor value of each code
    code: np.ndarray  # dense actor code, ascending
    ts: np.ndarray
    verb_no: np.ndarray  # 1-based position in ``verbs``, 0 for other verbs
    row: np.ndarray  # each action's row in ``stored``
    stored: np.ndarray | None  # (rows in the parts, dim) float32 embeddings, in file order
    verbs: tuple[str, ...]
    objects: pa.DictionaryArray | None = None  # each action's object, read for the seen features only
    keys: ObjectKeys | None = None  # each action's object key (:meth:`for_view` with a seen spec)

    def for_view(self, verbs: tuple[str, ...], seen_spec: SeenSpec | None) -> SortedLog:
        """The same log with ``verb_no`` numbering ``verbs``, and with a seen spec its object keys."""
        remap = np.array([0] + [verbs.index(v) + 1 if v in verbs else 0 for v in self.verbs], np.int64)
        keys = None
        if seen_spec is not None:
            assert self.objects is not None, "a view with seen features reads the log with its objects"
            keys = _object_keys(seen_spec, self.objects)
        return replace(self, verb_no=remap[self.verb_no], verbs=verbs, keys=keys)


class SortedLogs:
    """Each history's sorted log, read once per training-data call for all its windowed views.

    ``with_objects``: the histories some view of which declares seen features.
    """

    def __init__(self, config: RepoConfig, with_objects: set[str]) -> None:
        self._config, self._with_objects = config, with_objects
        self._found: dict[str, SortedLog] = {}

    def of(self, spec: HistorySpec, actors: pd.DataFrame) -> SortedLog:
        """The log of ``spec``'s actions by ``actors`` (the same entity rows in every call)."""
        if spec.name not in self._found:
            self._found[spec.name] = load_sorted_log(self._config, spec, actors, spec.name in self._with_objects)
        return self._found[spec.name]


def _narrow_sql(spec: HistorySpec, files: list[str], verbs: tuple[str, ...], objects: bool) -> str:
    # Dedup keeps the earliest-written copy of an action_id in the whole log, as
    # offline.history and the online stores do (first writer wins, whoever the
    # actor): the smallest (file in write order, row in file), found before the
    # requested actors are picked, so the entity_df cannot change which copy counts.
    # Embeddings stay out of the sort and are gathered by that position afterwards.
    file_list = "[" + ", ".join(map(sql_literal, files)) + "]"
    verb_list = "[" + ", ".join(map(sql_literal, verbs)) + "]"
    obj, arg_obj, out_obj = ("object, ", "arg_min(object, pos) AS object, ", ", object") if objects else ("", "", "")
    return f"""
        WITH raw AS (
            SELECT "{spec.log.actor_join_key}" AS actor, action_id, {obj}{epoch_ms_sql("event_timestamp")} AS ts,
                   coalesce(list_position({verb_list}, verb), 0) AS verb_no,
                   ((list_position({file_list}, filename) - 1)::BIGINT << 32) + file_row_number AS pos
            FROM read_parquet({file_list}, filename = true, file_row_number = true, union_by_name = true)),
        unique_actions AS (
            SELECT action_id, arg_min(actor, pos) AS actor, arg_min(ts, pos) AS ts, {arg_obj}
                   arg_min(verb_no, pos) AS verb_no, min(pos) AS pos
            FROM raw GROUP BY action_id)
        SELECT dense_rank() OVER (ORDER BY actor) - 1 AS code, actor, ts, verb_no, pos{out_obj}
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


def load_sorted_log(config: RepoConfig, spec: HistorySpec, actors: pd.DataFrame, objects: bool) -> SortedLog:
    """The actions of ``actors`` sorted, verbs numbered as the log declares them; ``objects``: with them."""
    files = log_files(config, spec)
    verbs = spec.log.verbs
    if not files or actors.empty:
        empty = np.zeros(0, dtype=np.int64)
        emb = np.zeros((0, spec.log.embedding_dim), np.float32) if spec.log.embedding_dim else None
        none = pa.array([], pa.string()).dictionary_encode() if objects else None
        return SortedLog(pd.Index([]), empty, empty, empty, empty, emb, verbs, none)
    with session(f"reading action log '{spec.log.name}'") as con:
        con.register("actors", actors)
        table = con.sql(_narrow_sql(spec, files, verbs, objects)).to_arrow_table()
    pos = table.column("pos").to_numpy()
    stored, row = None, np.zeros(len(pos), dtype=np.int64)
    if spec.log.embedding_dim:
        stored, offsets = _stored_embeddings(files, spec.log.embedding_dim)
        row = offsets[pos >> 32] + (pos & 0xFFFFFFFF)
    return SortedLog(
        actors=pd.Index(table.column("actor").to_pandas()).unique(),
        code=table.column("code").to_numpy(), ts=table.column("ts").to_numpy(),
        verb_no=table.column("verb_no").to_numpy(), row=row, stored=stored, verbs=verbs,
        objects=table.column("object").combine_chunks().dictionary_encode() if objects else None,
    )


def _object_keys(spec: SeenSpec, encoded: pa.DictionaryArray) -> ObjectKeys:
    # each distinct object is parsed once
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return ObjectKeys.of(spec, codes.astype(np.int64), encoded.dictionary.to_pylist())


def _keys(actor: np.ndarray, ts: np.ndarray, base: int) -> np.ndarray:
    return (actor.astype(np.int64) << _TS_BITS) | (ts - base)


@dataclass(frozen=True)
class Bounds:
    """Every group's actions as log index ranges: its history ``[start, end)`` and each window's first.

    A range whose first is at or after its end is empty; groups of actors
    without actions have ``start = end = 0``.
    """

    start: np.ndarray
    end: np.ndarray
    firsts: list[np.ndarray]  # one per window length asked, in order


def _bounds(log: SortedLog, rows: pd.DataFrame, request_ts: np.ndarray,
            hspec: HistorySpec, lengths: list[int]) -> Bounds:
    """The ranges of ``rows``: windows of ``lengths`` ms.

    The history is as of the row's time ``t`` (cap and retention) and ends at
    the row's ``request_ts``, exactly as the online path reads it; a window
    of length ``w`` keeps its actions with ``ts > request_ts - w``.
    """
    t = rows["t"].to_numpy()
    code = log.actors.get_indexer(rows["actor"])
    longest = max([hspec.log.retention_ms, *lengths])
    low = min(int(t.min(initial=0)), int(request_ts.min(initial=0))) - longest
    base = min(int(log.ts.min(initial=0)), low) - 1
    keys = _keys(log.code, log.ts, base)

    def upto(ms: np.ndarray) -> np.ndarray:  # index after the actor's last action at or before ms
        return np.searchsorted(keys, _keys(code, ms, base), side="right")

    hi = upto(t)
    start = np.maximum(hi - hspec.max_actions, upto(t - hspec.log.retention_ms))
    end = np.minimum(hi, upto(request_ts))
    no_actions = code < 0
    firsts = [np.where(no_actions, 0, np.maximum(start, upto(request_ts - length))) for length in lengths]
    return Bounds(np.where(no_actions, 0, start), np.where(no_actions, 0, end), firsts)


def candidate_matrix(column: pa.ChunkedArray | pa.Array | None, n: int, dim: int) -> np.ndarray | None:
    """Candidate embeddings as (n, dim) float64; zero rows where missing or malformed."""
    if column is None:
        return None
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    ok = pc.fill_null(pc.equal(pc.list_value_length(values), dim), False)
    out = np.zeros((n, dim))
    mask = ok.to_numpy(zero_copy_only=False)
    if mask.any():
        out[mask] = values.filter(ok).flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return out


def prefix_windowed_columns(
    logs: SortedLogs,
    hspec: HistorySpec,
    wspec: WindowedFeaturesSpec,
    rows: pd.DataFrame,
    ts_column: str,
    request_ts: np.ndarray,
    candidates: np.ndarray | None,
    seen_keys: list[Any] | None,
    wanted: list[str],
) -> dict[str, Any]:
    """The ``wanted`` windowed features of every entity row, in row order.

    ``seen_keys``: each row's candidate key, for the seen features.
    """
    entities = entity_frame(rows, hspec.log.actor_join_key, ts_column, hspec.log.actor_is_int)
    dim = wspec.embedding_dim
    kinds = {output_names(wspec)[name].kind for name in wanted}
    seen_spec = wspec.seen if not kinds.isdisjoint(_SEEN_KINDS) else None
    log = logs.of(hspec, entities[["actor"]]).for_view(wspec.read_verbs, seen_spec)
    request_ts = request_ts.astype(np.int64)
    shared = SharedRows.of(entities, request_ts)
    seen_windows = seen_spec.windows if seen_spec is not None else ()
    bounds = _bounds(log, entities.iloc[shared.first], request_ts[shared.first], hspec,
                     [w.length_ms for w in (*wspec.windows, *seen_windows)])
    groups = _Groups(wspec, log, shared, bounds, request_ts[shared.first], candidates, set(wanted))
    row_actor = log.actors.get_indexer(entities["actor"])
    row_key = None
    if seen_spec is not None and log.keys is not None:
        row_key = log.keys.of_candidates(seen_spec, seen_keys or [None] * len(entities))

    # each group's actor: its slot in the per-actor prefix sums (groups without actions: 0)
    slot = np.maximum(row_actor[shared.first], 0)

    def verb_columns(number: int) -> dict[str, Any]:
        is_verb = log.verb_no == number
        # position of each log row among this verb's rows: prefix sums over the verb only
        ordinal = np.concatenate([[0], np.cumsum(is_verb)])
        columns: dict[str, Any] = {}
        if wspec.windows:
            sums = None
            if dim and log.stored is not None:
                sums = _actor_prefix_sums(log.stored, log.row[is_verb], log.code[is_verb], len(log.actors))
            ranges = (bounds.end, bounds.firsts[:len(wspec.windows)])
            columns |= _verb_columns(wspec, wspec.verbs[number - 1], ordinal, sums, ranges, shared, slot,
                                     candidates, set(wanted))
        if wspec.decays:
            columns |= _decayed_columns(groups, number, is_verb, ordinal, kinds)
        if row_key is not None:
            columns |= _seen_columns(groups, number, is_verb, row_actor, row_key)
        return columns

    out: dict[str, Any] = {}
    # numpy's gathers and arithmetic release the GIL: verbs run on all cores
    with ThreadPoolExecutor(max_workers=min(len(wspec.verbs), os.cpu_count() or 1)) as pool:
        for columns in pool.map(verb_columns, range(1, len(wspec.verbs) + 1)):
            out.update(columns)
    if wspec.interests is not None and not kinds.isdisjoint(_INTEREST_KINDS):
        out.update(_interest_columns(groups, wspec.interests))
    return {name: out[name] for name in wanted}


_DECAY_MEAN_KINDS = frozenset({"decayed_mean_emb", "decayed_sim"})
_SEEN_KINDS = frozenset({"seen_count", "seen_age_ms"})
_INTEREST_KINDS = frozenset({"medoid_emb", "importance", "clusters", "max_sim", "weighted_sim"})


@dataclass(frozen=True)
class _Groups:
    """What the decayed, seen and interest columns read: the log, the groups and their ranges."""

    wspec: WindowedFeaturesSpec
    log: SortedLog
    shared: SharedRows
    bounds: Bounds
    now: np.ndarray  # each group's request_ts
    candidates: np.ndarray | None  # (rows, dim) float64
    wanted: set[str]

    def vectors(self, name: str, per_group: np.ndarray) -> dict[str, Any]:
        """``{name: each row's vector}`` (float32 lists) if asked for: a per-row copy is costly."""
        return {name: _list_column(per_group.astype(np.float32)[self.shared.group])} if name in self.wanted else {}

    def similarities(self, per_group: np.ndarray) -> np.ndarray:
        """Each row's cosine of its candidate and its group's vector; 0 without candidates."""
        if self.candidates is None:
            return np.zeros(len(self.shared.group))
        norms = np.sqrt(np.einsum("ij,ij->i", self.candidates, self.candidates))
        return _cosines(per_group[self.shared.group], self.candidates, norms)


def _decayed_columns(groups: _Groups, number: int, is_verb: np.ndarray, ordinal: np.ndarray,
                     kinds: set[str]) -> dict[str, Any]:
    log, wspec = groups.log, groups.wspec
    embeddings = None
    if log.stored is not None and not kinds.isdisjoint(_DECAY_MEAN_KINDS):
        embeddings = log.stored[log.row[is_verb]]
    found = decayed(log.ts[is_verb], ordinal[groups.bounds.start], ordinal[groups.bounds.end], groups.now,
                    [d.half_life_ms for d in wspec.decays], embeddings)
    stem = verb_slug(wspec.verbs[number - 1])
    out: dict[str, Any] = {}
    for decay, result in zip(wspec.decays, found):
        out[f"{stem}_decayed_count_{decay.label}"] = result.counts[groups.shared.group]
        if result.means is not None:
            out |= groups.vectors(f"{stem}_decayed_mean_emb_{decay.label}", result.means)
            out[f"{stem}_decayed_sim_{decay.label}"] = groups.similarities(result.means)
    return out


def _seen_columns(groups: _Groups, number: int, is_verb: np.ndarray, row_actor: np.ndarray,
                  row_key: np.ndarray) -> dict[str, Any]:
    log, wspec, group = groups.log, groups.wspec, groups.shared.group
    assert wspec.seen is not None and log.keys is not None
    firsts = [first[group] for first in groups.bounds.firsts[len(wspec.windows):]]
    found = seen(log.ts, log.code, log.keys.codes, np.flatnonzero(is_verb), row_actor, row_key, firsts,
                 groups.bounds.end[group], groups.now[group])
    stem = verb_slug(wspec.verbs[number - 1])
    out: dict[str, Any] = {}
    for window, result in zip(wspec.seen.windows, found):
        out[f"{stem}_seen_count_{window.label}"] = result.counts
        out[f"{stem}_seen_age_ms_{window.label}"] = result.ages
    return out


def _interest_columns(groups: _Groups, spec: InterestsSpec) -> dict[str, Any]:
    log, shared = groups.log, groups.shared
    assert log.stored is not None  # interests are declared on histories with embeddings only
    numbers = [groups.wspec.read_verbs.index(verb) + 1 for verb in spec.verbs]
    is_interest = np.isin(log.verb_no, numbers)
    chosen = np.flatnonzero(is_interest)
    ordinal = np.concatenate([[0], np.cumsum(is_interest)])
    found = group_interests(spec, log.ts[chosen], log.stored[log.row[chosen]], ordinal[groups.bounds.start],
                            ordinal[groups.bounds.end], groups.now)
    medoids = np.zeros((len(found), spec.k, log.stored.shape[1]), np.float32)
    for number, interest in enumerate(found):
        medoids[number] = interest.medoids
    importances = np.array([interest.importances for interest in found]).reshape(len(found), spec.k)
    out: dict[str, Any] = {f"{spec.prefix}_clusters": np.array([i.clusters for i in found], np.int64)[shared.group]}
    for slot in range(spec.k):
        out |= groups.vectors(f"{spec.prefix}_medoid_emb_{slot + 1}", medoids[:, slot])
        out[f"{spec.prefix}_importance_{slot + 1}"] = importances[:, slot][shared.group]
    best, weighted = np.zeros(len(shared.group)), np.zeros(len(shared.group))
    if groups.candidates is not None:
        for number, interest in enumerate(found):
            if interest.found:  # the others score 0
                members = shared.order[shared.starts[number]:shared.starts[number + 1]]
                best[members], weighted[members] = interest.similarities(groups.candidates[members])
    out[f"{spec.prefix}_max_sim"], out[f"{spec.prefix}_weighted_sim"] = best, weighted
    return out


def _actor_prefix_sums(stored: np.ndarray, rows: np.ndarray, codes: np.ndarray, actors: int) -> np.ndarray:
    """Running sums (float64) of ``stored[rows]`` that restart at every actor.

    Actor ``c`` owns the slots from ``(its first verb ordinal) + c``: a zero, then
    its running sums, so ordinal ``j`` of a row of actor ``c`` is slot ``j + c``.
    One shared running sum would carry a NaN, or the rounding of one huge value
    (3e38 is a valid float32), into every later actor's window differences.
    """
    sums = np.zeros((len(rows) + actors + 1, stored.shape[1]))
    slots = np.arange(1, len(rows) + 1) + codes  # after the zero of each row's actor
    for start in range(0, len(rows), _BLOCK):
        block = slice(start, start + _BLOCK)
        sums[slots[block]] = stored[rows[block]]
    # in place on float64, one actor at a time (an actor with one action needs none)
    firsts = np.flatnonzero(np.diff(codes, prepend=-1))
    lasts = np.append(firsts[1:], len(rows)) - 1 if len(rows) else firsts
    for first, end in zip(slots[firsts].tolist(), slots[lasts].tolist()):
        if end > first:
            np.cumsum(sums[first:end + 1], axis=0, out=sums[first:end + 1])
    return sums


@dataclass(frozen=True)
class SharedRows:
    """Entity rows grouped by (actor, time, request_ts): the rows of one ranking instant.

    Counts and means are computed once per group; each row adds only its
    candidate's similarity.
    """

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


def _verb_columns(
    wspec: WindowedFeaturesSpec,
    verb: str,
    ordinal: np.ndarray,  # log index -> number of this verb's actions before it
    sums: np.ndarray | None,
    ranges: tuple[np.ndarray, list[np.ndarray]],  # per group
    shared: SharedRows,
    slot: np.ndarray,  # each group's actor code: its offset in ``sums``
    cand: np.ndarray | None,  # per row
    wanted: set[str],
) -> dict[str, Any]:
    end, firsts = ranges
    hi = ordinal[end]
    los = [ordinal[first] for first in firsts]
    counts = [np.maximum(hi - lo, 0) for lo in los]
    stem = verb_slug(verb)
    out: dict[str, Any] = {f"{stem}_count_{w.label}": n.astype(np.int64)[shared.group]
                           for w, n in zip(wspec.windows, counts)}
    if sums is None:
        return out
    rows = len(shared.group)
    means = [np.empty((shared.groups, wspec.embedding_dim), np.float32) for _ in los]
    sims = [np.zeros(rows) for _ in los]
    scales = [np.divide(1.0, n, out=np.zeros(len(n)), where=n > 0) for n in counts]
    cand_norms = None if cand is None else np.sqrt(np.einsum("ij,ij->i", cand, cand))
    # an empty window's start may be past its end (another actor's slots): its scale is 0
    his, los = hi + slot, [np.minimum(lo, hi) + slot for lo in los]
    for start in range(0, shared.groups, _BLOCK):
        groups = slice(start, start + _BLOCK)
        upto_end = sums[his[groups]]  # shared by every window of the block
        # the rows of these groups, and each one's group within the block
        members = shared.order[shared.starts[start]:shared.starts[min(start + _BLOCK, shared.groups)]]
        local = shared.group[members] - start
        for lo, scale, mean, sim in zip(los, scales, means, sims):
            block = (upto_end - sums[lo[groups]]) * scale[groups, None]
            mean[groups] = block
            if cand is not None and cand_norms is not None:
                sim[members] = _cosines(block[local], cand[members], cand_norms[members])
    for window, mean, sim in zip(wspec.windows, means, sims):
        name = f"{stem}_mean_emb_{window.label}"
        if name in wanted:  # a per-row copy of the group's mean: built only when asked for
            out[name] = _list_column(mean[shared.group])
        out[f"{stem}_sim_{window.label}"] = sim
    return out


def _list_column(means: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    flat = pa.array(means.ravel())
    lists = pa.FixedSizeListArray.from_arrays(flat, means.shape[1]).cast(pa.list_(pa.float32()))
    return pd.arrays.ArrowExtensionArray(lists)


def _cosines(means: np.ndarray, cand: np.ndarray, cand_norms: np.ndarray) -> np.ndarray:
    dots = np.einsum("ij,ij->i", means, cand)
    norms = np.sqrt(np.einsum("ij,ij->i", means, means)) * cand_norms
    return np.divide(dots, norms, out=np.zeros(len(means)), where=norms > 0)
