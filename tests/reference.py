"""An independent computation of every windowed feature, straight from raw actions.

Written from the definitions of issue 15 and docs/configuration.md with numpy
and scipy only: nothing here calls ``feast_pinot`` (its windows, interests or
vectors helpers), so the unit and parity suites compare the product with a
second implementation rather than with itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

NO_SEEN_AGE = -1


@dataclass(frozen=True)
class Act:
    """One raw action; ``emb`` None when it has no embedding (e.g. an unjoined object)."""

    action_id: str
    ts: int
    verb: str
    obj: str | None = None
    emb: Sequence[float] | None = None


@dataclass(frozen=True)
class Declared:
    """What a windowed view declares, in plain numbers (lengths in ms, keyed by label)."""

    verbs: tuple[str, ...]
    dim: int
    windows: Mapping[str, int] = field(default_factory=dict)
    half_lives: Mapping[str, int] = field(default_factory=dict)
    seen_windows: Mapping[str, int] = field(default_factory=dict)
    object_prefix: str = "job:"
    key_is_int: bool = True
    interest_verbs: tuple[str, ...] | None = None  # None: no interests declared
    k: int = 5
    interest_half_life_ms: int = 24 * 3_600_000
    distance_threshold: float | None = None


def history_order(acts: Sequence[Act], request_ts: int) -> list[Act]:
    """The actions a row may use (``ts <= request_ts``), newest first, ties by ascending action_id."""
    return sorted((a for a in acts if a.ts <= request_ts), key=lambda a: (-a.ts, a.action_id))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def weight(ts: int, t: int, half_life_ms: int) -> float:
    return float(2.0 ** (-(t - ts) / half_life_ms))


def reference(
    declared: Declared, acts: Sequence[Act], request_ts: int, candidate: Sequence[float] | None = None,
    candidate_key: Any = None,
) -> dict[str, Any]:
    """Every output of the view for one row, by short feature name."""
    history = history_order(acts, request_ts)
    # a missing candidate embedding, or one of another length, is a zero vector
    known = candidate is not None and np.ndim(candidate) == 1 and len(candidate) == declared.dim
    cand = np.asarray(candidate, dtype=np.float64) if known else np.zeros(declared.dim)
    out: dict[str, Any] = {}
    for verb in declared.verbs:
        slug = re.sub(r"[^0-9a-zA-Z_]", "_", verb)
        mine = [a for a in history if a.verb == verb]
        for label, length in declared.windows.items():
            hits = [a for a in mine if request_ts - length < a.ts]
            out[f"{slug}_count_{label}"] = len(hits)
            if declared.dim:
                mean = _mean(hits, declared.dim)
                out[f"{slug}_mean_emb_{label}"], out[f"{slug}_sim_{label}"] = mean, cosine(cand, mean)
        for label, half_life in declared.half_lives.items():
            out[f"{slug}_decayed_count_{label}"] = float(sum(weight(a.ts, request_ts, half_life) for a in mine))
            if declared.dim:
                mean = _decayed_mean(mine, half_life, declared.dim)
                out[f"{slug}_decayed_mean_emb_{label}"], out[f"{slug}_decayed_sim_{label}"] = mean, cosine(cand, mean)
        for label, length in declared.seen_windows.items():
            on_it = [a for a in mine if request_ts - length < a.ts and _is_candidate(declared, a, candidate_key)]
            out[f"{slug}_seen_count_{label}"] = len(on_it)
            out[f"{slug}_seen_age_ms_{label}"] = request_ts - max(a.ts for a in on_it) if on_it else NO_SEEN_AGE
    if declared.interest_verbs is not None:
        out.update(interests(declared, history, request_ts, cand))
    return out


def _mean(acts: Sequence[Act], dim: int) -> np.ndarray:
    vecs = [np.asarray(a.emb, dtype=np.float64) for a in acts if a.emb is not None]
    return np.mean(vecs, axis=0) if vecs else np.zeros(dim)


def _decayed_mean(acts: Sequence[Act], half_life_ms: int, dim: int) -> np.ndarray:
    with_emb = [a for a in acts if a.emb is not None]
    if not with_emb:
        return np.zeros(dim)
    # Σw·e/Σw does not change when every weight is scaled, so weights are taken
    # relative to the newest action: the mean exists however old the actions are.
    newest = max(a.ts for a in with_emb)
    w = np.array([weight(a.ts, newest, half_life_ms) for a in with_emb])
    return (w[:, None] * np.array([a.emb for a in with_emb], dtype=np.float64)).sum(axis=0) / w.sum()


def _is_candidate(declared: Declared, act: Act, key: Any) -> bool:
    if act.obj is None or not act.obj.startswith(declared.object_prefix) or key is None:
        return False
    raw = act.obj[len(declared.object_prefix):]
    if declared.key_is_int:
        return isinstance(key, (int, np.integer)) and not isinstance(key, bool) and raw == str(int(key))
    return isinstance(key, str) and raw == key


def interests(declared: Declared, history: Sequence[Act], request_ts: int, cand: np.ndarray) -> dict[str, Any]:
    """Ward clusters of the interest verbs' embeddings, medoids of the most important, candidate similarities."""
    assert declared.interest_verbs is not None
    chosen = [a for a in history if a.verb in declared.interest_verbs and a.emb is not None]
    k, dim = declared.k, declared.dim
    medoids, importances = [np.zeros(dim)] * k, [0.0] * k
    clusters: list[tuple[float, int, list[int]]] = []
    if chosen:
        emb = np.array([a.emb for a in chosen], dtype=np.float64)
        labels = _ward_labels(emb, declared)
        for label in sorted(set(labels.tolist())):
            members = [i for i in range(len(chosen)) if labels[i] == label]
            importance = float(sum(weight(chosen[i].ts, request_ts, declared.interest_half_life_ms) for i in members))
            clusters.append((importance, members[0], members))
        clusters.sort(key=lambda c: (-c[0], c[1]))  # ties: the cluster holding the newest action
        for slot, (importance, _, members) in enumerate(clusters[:k]):
            centroid = emb[members].mean(axis=0)
            distances = [float(((emb[i] - centroid) ** 2).sum()) for i in members]
            medoids[slot] = emb[members[distances.index(min(distances))]]  # first minimum: the newest
            importances[slot] = importance
    found = min(len(clusters), k)
    sims = [cosine(cand, medoids[s]) for s in range(found)]
    total = sum(importances[:found])
    out: dict[str, Any] = {f"interest_medoid_emb_{s + 1}": medoids[s] for s in range(k)}
    out.update({f"interest_importance_{s + 1}": importances[s] for s in range(k)})
    out["interest_clusters"] = len(clusters)
    out["interest_max_sim"] = max(sims) if sims else 0.0
    weighted = sum(w * s for w, s in zip(importances, sims, strict=False))
    out["interest_weighted_sim"] = float(weighted / total) if total else 0.0
    return out


def _ward_labels(emb: np.ndarray, declared: Declared) -> np.ndarray:
    if len(emb) == 1:
        return np.zeros(1, dtype=np.int64)
    tree = linkage(emb, method="ward")
    if declared.distance_threshold is not None:
        return fcluster(tree, t=declared.distance_threshold, criterion="distance")
    return fcluster(tree, t=declared.k, criterion="maxclust")


def assert_matches(got: Mapping[str, Any], want: Mapping[str, Any], context: str = "", prefix: str = "") -> None:
    """Ints exactly, floats and vectors within 1e-6."""
    for name, value in want.items():
        actual = got[f"{prefix}{name}"]
        if isinstance(value, int):
            assert actual == value and isinstance(actual, (int, np.integer)), f"{context} {name}: {actual} != {value}"
        else:
            assert np.shape(actual) == np.shape(value), f"{context} {name}: shape {np.shape(actual)}"
            diff = float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(value, dtype=np.float64))))
            assert diff <= 1e-6, f"{context} {name}: max abs diff {diff} ({actual} vs {value})"
