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
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from feast_pinot.errors import FeastPinotError, RequestFieldError
from feast_pinot.keys import is_int64
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["windowed_features", "output_names", "verb_slug", "request_time"]


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
        row = _row_features(
            spec,
            request_time(now[i], spec.request_field, i),
            ts_col[i],
            verb_col[i],
            None if emb_col is None else emb_col[i],
            None if cand_col is None else cand_col[i],
        )
        for name in names:
            out[name].append(row[name])
    # Feast's online path looks python-mode outputs up by their full name
    # ("view__feature") when full_feature_names=True, and by the short name
    # otherwise, so both are given. (The offline store names training columns
    # itself.)
    out.update({f"{spec.view}__{name}": column for name, column in list(out.items())})
    return out


def _row_features(
    spec: WindowedFeaturesSpec,
    now: int,
    ts: Any,
    verbs: Any,
    flat: Any,
    candidate: Any,
) -> dict[str, Any]:
    ts_arr = np.asarray([] if ts is None else ts, dtype=np.int64)
    verb_arr = np.asarray([] if verbs is None else verbs, dtype=object)
    masks = _masks(spec, now, ts_arr, verb_arr)  # one row per (verb, window)
    counts = masks.sum(axis=1)
    emb = _embeddings(spec, flat, len(ts_arr), verb_arr)
    means = sims = None
    if emb is not None:
        means = _means(masks, emb)
        sims = _cosines(_candidate(spec, candidate), means)
    row: dict[str, Any] = {}
    for k, (verb, window) in enumerate((v, w) for v in spec.verbs for w in spec.windows):
        stem, label = verb_slug(verb), window.label
        row[f"{stem}_count_{label}"] = int(counts[k])
        if means is not None and sims is not None:
            row[f"{stem}_mean_emb_{label}"] = means[k].astype(np.float32).tolist()
            row[f"{stem}_sim_{label}"] = float(sims[k])
    return row


def _masks(spec: WindowedFeaturesSpec, now: int, ts: np.ndarray, verbs: np.ndarray) -> np.ndarray:
    """Boolean (verbs * windows, actions): which actions each output covers."""
    by_verb = np.array([verbs == v for v in spec.verbs], dtype=bool).reshape(len(spec.verbs), len(ts))
    lengths = np.array([w.length_ms for w in spec.windows], dtype=np.int64)
    by_window = (ts[None, :] > now - lengths[:, None]) & (ts[None, :] <= now)
    pairs = len(spec.verbs) * len(spec.windows)
    return (by_verb[:, None, :] & by_window[None, :, :]).reshape(pairs, len(ts))


def _means(masks: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """Mean embedding per mask row; actions without an embedding (NaN) are left out."""
    has_embedding = np.isfinite(emb).all(axis=1)
    chosen = (masks & has_embedding).astype(np.float64)
    sums = chosen @ np.where(has_embedding[:, None], emb, 0.0)
    n = chosen.sum(axis=1)[:, None]
    return np.divide(sums, n, out=np.zeros_like(sums), where=n > 0)


def _cosines(candidate: np.ndarray | None, means: np.ndarray) -> np.ndarray:
    if candidate is None:
        return np.zeros(len(means))
    norms = np.linalg.norm(means, axis=1) * np.linalg.norm(candidate)
    return np.divide(means @ candidate, norms, out=np.zeros(len(means)), where=norms > 0)


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


def _candidate(spec: WindowedFeaturesSpec, candidate: Any) -> np.ndarray | None:
    if candidate is None:
        return None
    vec = np.asarray(candidate, dtype=np.float64)
    return vec if vec.size == spec.embedding_dim else None

