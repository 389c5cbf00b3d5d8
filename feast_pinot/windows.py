"""Windowed features computed from a recent-action history at request time.

The on-demand feature views made by
:func:`feast_pinot.declarations.windowed_action_features` call
:func:`windowed_features`, online and in training alike, so both paths run the
same code. For each declared verb and window ``w`` and each row with request
time ``t`` (epoch ms), over the row's actions with ``t - w < ts <= t``:

* ``{verb}_count_{w}``: number of actions (Int64);
* ``{verb}_mean_emb_{w}``: element-wise mean of their embeddings (Float32 list);
  actions without an embedding (a read-time join that found no attribute) are
  left out of the mean but still counted;
* ``{verb}_sim_{w}``: cosine similarity of the candidate embedding and that mean
  (Float64).

Empty windows give count 0, a zero vector and similarity 0; a missing or
zero candidate gives similarity 0. Never NaN, never an exception.

Counts and means depend only on the actor's history and the request time, so
they are computed by :func:`member_windows` once per (history, request time);
:func:`similarities` then scores any number of candidates against them at
once. The ODFV body runs them per row; the online store's ranking path
(:mod:`feast_pinot.online.windowed_read`) runs them once per member and
request time for all the rows that share them, with identical values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feast_pinot.errors import FeastPinotError, RequestFieldError
from feast_pinot.keys import is_int64
from feast_pinot.specs import WindowedFeaturesSpec, WindowSpec

__all__ = [
    "ActorHistory",
    "MemberWindows",
    "candidate_matrix",
    "member_windows",
    "output_names",
    "request_time",
    "similarities",
    "verb_slug",
    "windowed_features",
]


def verb_slug(verb: str) -> str:
    """A feature-name-safe form of a verb (``job-apply`` -> ``job_apply``)."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", verb)


def output_names(spec: WindowedFeaturesSpec) -> dict[str, tuple[str, str, str]]:
    """``{feature name: (kind, verb, window label)}`` in declaration order."""
    names: dict[str, tuple[str, str, str]] = {}
    for verb in spec.verbs:
        for window in spec.windows:
            for kind in ("count", "mean_emb", "sim"):
                if kind != "count" and not spec.embedding_dim:
                    continue
                names[f"{verb_slug(verb)}_{kind}_{window.label}"] = (kind, verb, window.label)
    return names


@functools.lru_cache(maxsize=64)
def _spec(spec_json: str) -> WindowedFeaturesSpec:
    return WindowedFeaturesSpec.model_validate_json(spec_json)


def request_time(value: Any, field: str, row: int) -> int:
    """A request's time (epoch ms), or :class:`RequestFieldError` naming the field and row."""
    if value is None:
        raise RequestFieldError(f"'{field}' is required (epoch ms of the request), got null in row {row}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise RequestFieldError(f"'{field}' must be epoch ms (an integer), got {value!r} in row {row}")
    if not is_int64(int(value)):
        raise RequestFieldError(f"'{field}' must be epoch ms within int64, got {value!r} in row {row}")
    return int(value)


def _column(inputs: dict[str, Any], spec: WindowedFeaturesSpec, feature: str) -> list[Any]:
    full = f"{spec.history}__{feature}"
    return inputs[full] if full in inputs else inputs[feature]


def windowed_features(inputs: dict[str, list[Any]], spec_json: str) -> dict[str, list[Any]]:
    """The ODFV body: python-mode ``inputs`` (column lists) to output columns."""
    spec = _spec(spec_json)
    now = inputs[spec.request_field]
    ts_col = _column(inputs, spec, "action_ts")
    verb_col = _column(inputs, spec, "action_verbs")
    emb_col = _column(inputs, spec, "action_embeddings") if spec.embedding_dim else None
    cand_col = inputs.get(spec.candidate) if spec.candidate else None
    names = output_names(spec)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for i in range(len(now)):
        at = request_time(now[i], spec.request_field, i)
        history = ActorHistory.of(spec, ts_col[i], verb_col[i], None if emb_col is None else emb_col[i])
        windows = member_windows(spec, history, at)
        sims = similarities(windows, candidate_matrix(spec, [None if cand_col is None else cand_col[i]]))
        row = windows.row_features(spec, None if sims is None else sims[0])
        for name in names:
            out[name].append(row[name])
    # Feast's online path looks python-mode outputs up by their full name
    # ("view__feature") when full_feature_names=True, and by the short name
    # otherwise, so both are given. (The offline store names training columns
    # itself.)
    out.update({f"{spec.view}__{name}": column for name, column in list(out.items())})
    return out




@dataclass(frozen=True)
class ActorHistory:
    """One actor's history as arrays, parsed once and shared by all its rows."""

    ts: np.ndarray  # int64 epoch ms
    verbs: np.ndarray  # object
    embeddings: np.ndarray | None  # (n, dim) float64, NaN-free
    has_embedding: np.ndarray | None  # (n,) bool: False for actions without one (NaN)

    @classmethod
    def of(cls, spec: WindowedFeaturesSpec, ts: Any, verbs: Any, flat: Any) -> ActorHistory:
        """From a history's values: ts and verb lists, embeddings as float32 bytes, a list or an array."""
        ts_arr = np.asarray([] if ts is None else ts, dtype=np.int64)
        verb_arr = np.asarray([] if verbs is None else verbs, dtype=object)
        emb = _embeddings(spec, flat, len(ts_arr), verb_arr)
        if emb is None:
            return cls(ts_arr, verb_arr, None, None)
        has_embedding = np.isfinite(emb).all(axis=1)
        return cls(ts_arr, verb_arr, np.where(has_embedding[:, None], emb, 0.0), has_embedding)


@dataclass(frozen=True)
class MemberWindows:
    """The member-level part of the windowed features: one row per (verb, window)."""

    counts: np.ndarray  # (pairs,) int
    means: np.ndarray | None  # (pairs, dim) float64; None without embeddings

    def row_features(self, spec: WindowedFeaturesSpec, sims: np.ndarray | None) -> dict[str, Any]:
        """Every output of one row whose candidate has similarities ``sims`` (pairs,)."""
        row: dict[str, Any] = {}
        for k, (verb, window) in enumerate(_pairs(spec)):
            stem, label = verb_slug(verb), window.label
            row[f"{stem}_count_{label}"] = int(self.counts[k])
            if self.means is not None and sims is not None:
                row[f"{stem}_mean_emb_{label}"] = self.means[k].astype(np.float32).tolist()
                row[f"{stem}_sim_{label}"] = float(sims[k])
        return row


def _pairs(spec: WindowedFeaturesSpec) -> list[tuple[str, WindowSpec]]:
    return [(v, w) for v in spec.verbs for w in spec.windows]


def member_windows(spec: WindowedFeaturesSpec, history: ActorHistory, now: int) -> MemberWindows:
    """Counts and means of every (verb, window) ending at ``now``."""
    masks = _masks(spec, now, history.ts, history.verbs)  # one row per (verb, window)
    counts = masks.sum(axis=1)
    if history.embeddings is None or history.has_embedding is None:
        return MemberWindows(counts, None)
    return MemberWindows(counts, _means(masks, history.embeddings, history.has_embedding))


def similarities(windows: MemberWindows, candidates: np.ndarray) -> np.ndarray | None:
    """Cosine of each candidate row (k, dim) and each mean: (k, pairs); 0 where either is zero.

    One product for all candidates, summed along the embedding per element, so a
    row's values do not depend on how many candidates share the call (a BLAS
    product's rounding does).
    """
    if windows.means is None:
        return None
    means = windows.means
    dots = (candidates[:, None, :] * means[None, :, :]).sum(axis=2)
    norms = _norms(candidates)[:, None] * _norms(means)[None, :]
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def _norms(rows: np.ndarray) -> np.ndarray:
    return np.sqrt((rows * rows).sum(axis=1))


def candidate_matrix(spec: WindowedFeaturesSpec, candidates: Sequence[Any]) -> np.ndarray:
    """Candidate embeddings as (k, dim) float64; a missing one (None, a null) or one of another length is a zero row."""
    out = np.zeros((len(candidates), spec.embedding_dim))
    for i, candidate in enumerate(candidates):
        if np.ndim(candidate) == 1 and len(candidate) == spec.embedding_dim:  # not None, pd.NA, ...
            out[i] = np.asarray(candidate, dtype=np.float64)
    return out


def _masks(spec: WindowedFeaturesSpec, now: int, ts: np.ndarray, verbs: np.ndarray) -> np.ndarray:
    """Boolean (verbs * windows, actions): which actions each output covers."""
    by_verb = np.array([verbs == v for v in spec.verbs], dtype=bool).reshape(len(spec.verbs), len(ts))
    lengths = np.array([w.length_ms for w in spec.windows], dtype=np.int64)
    by_window = (ts[None, :] > now - lengths[:, None]) & (ts[None, :] <= now)
    pairs = len(spec.verbs) * len(spec.windows)
    return (by_verb[:, None, :] & by_window[None, :, :]).reshape(pairs, len(ts))


def _means(masks: np.ndarray, emb: np.ndarray, has_embedding: np.ndarray) -> np.ndarray:
    """Mean embedding per mask row; actions without an embedding are left out."""
    chosen = (masks & has_embedding).astype(np.float64)
    sums = chosen @ emb
    n = chosen.sum(axis=1)[:, None]
    return np.divide(sums, n, out=np.zeros_like(sums), where=n > 0)


def _embeddings(
    spec: WindowedFeaturesSpec, flat: Any, n: int, verbs: np.ndarray
) -> np.ndarray | None:
    dim = spec.embedding_dim
    if not dim:
        return None
    values = _floats(flat)
    if values is not None and values.size == n * dim:
        return values.reshape(n, dim)
    if not np.isin(verbs, spec.verbs).any():
        # No action of a declared verb reads an embedding (e.g. Feast's apply-time
        # type inference, which sends one-element samples).
        return np.zeros((n, dim))
    size = "an odd number of bytes" if values is None else f"{values.size} embedding values"
    raise FeastPinotError(
        f"history '{spec.history}' gave {size} for {n} actions of dimension {dim}"
    )


def _floats(flat: Any) -> np.ndarray | None:
    """Embeddings as float64: from float32 bytes (the history's form) or a list."""
    if flat is None:
        return np.zeros(0)
    if isinstance(flat, (bytes, bytearray, memoryview)):
        if len(flat) % 4:
            return None
        return np.frombuffer(flat, dtype="<f4").astype(np.float64)
    return np.asarray(flat, dtype=np.float64)
