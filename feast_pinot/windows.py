"""Request-time features of a recent-action history: windows, decay, interests, seen.

The on-demand feature views made by
:func:`feast_pinot.declarations.windowed_action_features` call
:func:`windowed_features`, online and in training alike, so both paths run the
same code. For a row with request time ``t`` (epoch ms), over the row's
history (actions with ``ts > t`` are never used):

* per verb and window ``w``, over ``t - w < ts <= t``: ``{verb}_count_{w}``
  (Int64), ``{verb}_mean_emb_{w}`` (element-wise mean of the embeddings;
  actions without one are counted but left out of the mean) and
  ``{verb}_sim_{w}`` (cosine of the candidate embedding and that mean);
* per verb and half-life ``h``, each action weighted ``2^(-(t - ts) / h)``:
  ``{verb}_decayed_count_{h}`` (the sum of the weights),
  ``{verb}_decayed_mean_emb_{h}`` (weighted mean) and ``{verb}_decayed_sim_{h}``;
* per verb and window, for the row's candidate object: ``{verb}_seen_count_{w}``
  and ``{verb}_seen_age_ms_{w}`` (``t`` minus the newest such action's ts, or
  :data:`NO_SEEN_AGE`);
* the member's interests (:mod:`feast_pinot.interests`): ``interest_medoid_emb_{i}``,
  ``interest_importance_{i}``, ``interest_clusters``, ``interest_max_sim`` and
  ``interest_weighted_sim``.

Empty inputs give 0, zero vectors and similarity 0 (never NaN, never an
exception); docs/configuration.md lists every empty case.

Member-level outputs depend only on the actor's history and ``t``, so
:func:`member_features` computes them once per (history, request time) and
:meth:`MemberFeatures.candidate_arrays` then scores any number of candidates
at once. The ODFV body runs them per row; the online store's ranking path
(:mod:`feast_pinot.online.windowed_read`) runs them once per member and
request time for all the rows that share them, with identical values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feast_pinot.errors import FeastPinotError, RequestFieldError
from feast_pinot.interests import MemberInterests, member_interests
from feast_pinot.keys import epoch_ms_problem, is_int64, object_key
from feast_pinot.specs import SeenSpec, WindowedFeaturesSpec, WindowSpec
from feast_pinot.vectors import cosines, decay_weights

__all__ = [
    "KINDS",
    "NO_SEEN_AGE",
    "ActorHistory",
    "Kind",
    "MemberFeatures",
    "Output",
    "candidate_keys",
    "candidate_matrix",
    "member_features",
    "output_names",
    "python_value",
    "request_time",
    "request_times",
    "verb_slug",
    "windowed_features",
]


def verb_slug(verb: str) -> str:
    """A feature-name-safe form of a verb (``job-apply`` -> ``job_apply``)."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", verb)


@dataclass(frozen=True)
class Kind:
    """How one kind of output is valued (``int``, ``float`` or ``vector``) and whether per candidate."""

    value: str
    per_candidate: bool


KINDS: dict[str, Kind] = {
    "count": Kind("int", False),
    "mean_emb": Kind("vector", False),
    "sim": Kind("float", True),
    "decayed_count": Kind("float", False),
    "decayed_mean_emb": Kind("vector", False),
    "decayed_sim": Kind("float", True),
    "seen_count": Kind("int", True),
    "seen_age_ms": Kind("int", True),
    "medoid_emb": Kind("vector", False),
    "importance": Kind("float", False),
    "clusters": Kind("int", False),
    "max_sim": Kind("float", True),
    "weighted_sim": Kind("float", True),
}
_EMBEDDING_KINDS = frozenset({"mean_emb", "sim", "decayed_mean_emb", "decayed_sim"})
_DECAY_KINDS = frozenset({"decayed_count", "decayed_mean_emb", "decayed_sim"})
_SEEN_KINDS = frozenset({"seen_count", "seen_age_ms"})
_INTEREST_KINDS = frozenset({"medoid_emb", "importance", "clusters", "max_sim", "weighted_sim"})
NO_SEEN_AGE = -1  # seen_age_ms when the member did not act on the candidate in the window


@dataclass(frozen=True)
class Output:
    """One output feature: its kind and its position in its kind's array.

    ``index`` is the (verb, window) pair of window and seen kinds, the (verb,
    half-life) pair of decayed kinds, the slot of ``medoid_emb`` and
    ``importance``, and 0 for the other interest kinds.
    """

    kind: str
    index: int

    @property
    def value(self) -> str:
        return KINDS[self.kind].value

    @property
    def per_candidate(self) -> bool:
        return KINDS[self.kind].per_candidate


@functools.lru_cache(maxsize=64)
def output_names(spec: WindowedFeaturesSpec) -> dict[str, Output]:
    """``{feature name: output}`` in declaration order (cached: do not mutate)."""
    names: dict[str, Output] = {}
    families: tuple[tuple[Sequence[Any], tuple[str, ...]], ...] = (
        (spec.windows, ("count", "mean_emb", "sim")),
        (spec.decays, ("decayed_count", "decayed_mean_emb", "decayed_sim")),
        (spec.seen.windows if spec.seen else (), ("seen_count", "seen_age_ms")),
    )
    for labelled, kinds in families:
        for v, verb in enumerate(spec.verbs):
            for w, item in enumerate(labelled):
                for kind in kinds:
                    if kind not in _EMBEDDING_KINDS or spec.embedding_dim:
                        names[f"{verb_slug(verb)}_{kind}_{item.label}"] = Output(kind, v * len(labelled) + w)
    if spec.interests is not None:
        prefix = spec.interests.prefix
        for kind in ("medoid_emb", "importance"):
            for slot in range(spec.interests.k):
                names[f"{prefix}_{kind}_{slot + 1}"] = Output(kind, slot)
        for kind in ("clusters", "max_sim", "weighted_sim"):
            names[f"{prefix}_{kind}"] = Output(kind, 0)
    return names


@functools.lru_cache(maxsize=64)
def _spec(spec_json: str) -> WindowedFeaturesSpec:
    return WindowedFeaturesSpec.model_validate_json(spec_json)


def request_time(value: Any, field: str, row: int) -> int:
    """A request's time (epoch ms, 2001 to 2100), or :class:`RequestFieldError` naming the field and row."""
    ms = _request_int(value, field, row)
    if problem := epoch_ms_problem(ms):
        raise RequestFieldError(f"'{field}' {problem} in row {row}")
    return ms


def _request_int(value: Any, field: str, row: int) -> int:
    """:func:`request_time` without the plausible range: the check of the on-demand body.

    ``feast apply`` runs that body on a sample whose ``request_ts`` is 1; every
    read reaching it checked its request times with :func:`request_time` before
    (both online stores' reads, the offline store).
    """
    if value is None:
        raise RequestFieldError(f"'{field}' is required (epoch ms of the request), got null in row {row}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise RequestFieldError(f"'{field}' must be epoch ms (an integer), got {value!r} in row {row}")
    if not is_int64(int(value)):
        raise RequestFieldError(f"'{field}' must be epoch ms within int64, got {value!r} in row {row}")
    return int(value)


def request_times(column: np.ndarray, field: str) -> np.ndarray:
    """A column of request times as int64, each checked as :func:`request_time` checks one.

    An integer column is checked at its smallest and largest value: the only
    rule it can break is the plausible range.
    """
    if column.dtype.kind not in "iu":
        for row, value in enumerate(column.tolist()):  # plain values: messages show 1.5, not np.float64(1.5)
            request_time(value, field, row)
    elif len(column):
        for row in sorted({int(column.argmin()), int(column.argmax())}):
            request_time(int(column[row]), field, row)
    return column.astype(np.int64)


def _column(inputs: dict[str, Any], spec: WindowedFeaturesSpec, feature: str) -> list[Any] | None:
    full = f"{spec.history}__{feature}"
    return inputs[full] if full in inputs else inputs.get(feature)


def windowed_features(inputs: dict[str, list[Any]], spec_json: str) -> dict[str, list[Any]]:
    """The ODFV body: python-mode ``inputs`` (column lists) to output columns."""
    spec = _spec(spec_json)
    now = inputs[spec.request_field]
    ts_col, verb_col = _column(inputs, spec, "action_ts"), _column(inputs, spec, "action_verbs")
    emb_col = _column(inputs, spec, "action_embeddings") if spec.embedding_dim else None
    obj_col = _column(inputs, spec, "action_objects") if spec.seen else None
    cand_col = inputs.get(spec.candidate) if spec.candidate else None
    key_col = inputs.get(spec.seen.candidate_key) if spec.seen else None
    names = output_names(spec)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for i in range(len(now)):
        at = _request_int(now[i], spec.request_field, i)
        history = ActorHistory.of(spec, _at(ts_col, i), _at(verb_col, i), _at(emb_col, i), _at(obj_col, i))
        member = member_features(spec, history, at)
        per_candidate = member.candidate_arrays(
            candidate_matrix(spec, [_at(cand_col, i)]), candidate_keys(spec.seen, [_at(key_col, i)]))
        member_values = member.member_arrays()
        for name, output in names.items():
            if output.per_candidate:
                value = per_candidate[output.kind][0, output.index]
            else:
                value = member_values[output.kind][output.index]
            out[name].append(python_value(output, value))
    # Feast's online path looks python-mode outputs up by their full name
    # ("view__feature") when full_feature_names=True, and by the short name
    # otherwise, so both are given. (The offline store names training columns
    # itself.)
    out.update({f"{spec.view}__{name}": column for name, column in list(out.items())})
    return out


def _at(column: Sequence[Any] | None, row: int) -> Any:
    return None if column is None else column[row]


def python_value(output: Output, value: Any) -> Any:
    """A computed value as the feature's Python value: int, float or a float32-rounded list."""
    if output.value == "vector":
        return np.asarray(value).astype(np.float32).tolist()
    return int(value) if output.value == "int" else float(value)


_NO_KEY = object()  # an object or candidate without a key: equal to nothing, itself included


@dataclass(frozen=True)
class ActorHistory:
    """One actor's history as arrays, parsed once and shared by all its rows."""

    ts: np.ndarray  # int64 epoch ms
    verbs: np.ndarray  # object
    embeddings: np.ndarray | None  # (n, dim) float64, NaN-free
    has_embedding: np.ndarray | None  # (n,) bool: False for actions without one (NaN)
    object_keys: np.ndarray | None = None  # (n,) object: each action's candidate key (seen features)

    @classmethod
    def of(cls, spec: WindowedFeaturesSpec, ts: Any, verbs: Any, flat: Any, objects: Any = None) -> ActorHistory:
        """From a history's values: ts, verb and object lists, embeddings as float32 bytes, a list or an array."""
        ts_arr = np.asarray([] if ts is None else ts, dtype=np.int64)
        verb_arr = np.asarray([] if verbs is None else verbs, dtype=object)
        keys = None if spec.seen is None else _object_keys(spec.seen, objects, len(ts_arr))
        emb = _embeddings(spec, flat, len(ts_arr), verb_arr)
        if emb is None:
            return cls(ts_arr, verb_arr, None, None, keys)
        has_embedding = np.isfinite(emb).all(axis=1)
        return cls(ts_arr, verb_arr, np.where(has_embedding[:, None], emb, 0.0), has_embedding, keys)


def _object_keys(seen: SeenSpec, objects: Any, n: int) -> np.ndarray:
    keys = np.empty(n, dtype=object)
    listed = [] if objects is None else list(objects)
    if len(listed) != n:
        raise FeastPinotError(f"a history gave {len(listed)} objects for {n} actions")
    for i, obj in enumerate(listed):
        key = _object_key(obj, seen.object_prefix, seen.key_is_int) if isinstance(obj, str) else None
        keys[i] = _NO_KEY if key is None else key
    return keys


@functools.lru_cache(maxsize=65_536)
def _object_key(obj: str, prefix: str, key_is_int: bool) -> int | str | None:
    """An action object's candidate key, parsed as the read-time attribute join parses it."""
    # cached: a member's history is parsed again on every request, its objects repeat from call to call
    return object_key(obj, prefix, key_is_int)


def candidate_keys(seen: SeenSpec | None, values: Sequence[Any]) -> np.ndarray | None:
    """Each row's candidate key as the object keys hold it; a missing or malformed one matches nothing."""
    if seen is None:
        return None
    keys = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        keys[i] = _as_key(seen, value)
    return keys


def _as_key(seen: SeenSpec, value: Any) -> object:
    if seen.key_is_int:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        return int(value) if ok else _NO_KEY
    return value if isinstance(value, str) else _NO_KEY


@dataclass(frozen=True)
class MemberFeatures:
    """Everything one (actor, request time) shares, computed once for all its candidates."""

    spec: WindowedFeaturesSpec
    history: ActorHistory
    now: int
    counts: np.ndarray  # (verbs * windows,) int
    means: np.ndarray | None  # (verbs * windows, dim); None without embeddings
    decayed_counts: np.ndarray  # (verbs * half-lives,)
    decayed_means: np.ndarray | None  # (verbs * half-lives, dim)
    interests: MemberInterests | None

    def member_arrays(self) -> dict[str, np.ndarray]:
        """The member-level outputs by kind, indexed by :attr:`Output.index`."""
        arrays = {"count": self.counts, "decayed_count": self.decayed_counts}
        if self.means is not None:
            arrays["mean_emb"] = self.means
        if self.decayed_means is not None:
            arrays["decayed_mean_emb"] = self.decayed_means
        if self.interests is not None:
            arrays["medoid_emb"] = self.interests.medoids
            arrays["importance"] = self.interests.importances
            arrays["clusters"] = np.array([self.interests.clusters])
        return arrays

    def candidate_arrays(self, candidates: np.ndarray | None, keys: np.ndarray | None) -> dict[str, np.ndarray]:
        """The per-candidate outputs by kind, (rows, index): one row per candidate.

        ``candidates`` (rows, dim) embeddings (zero rows where missing), ``keys``
        the candidates' keys for the seen features (:func:`candidate_keys`).
        """
        arrays: dict[str, np.ndarray] = {}
        if candidates is not None:
            if self.means is not None:
                arrays["sim"] = cosines(candidates, self.means)
            if self.decayed_means is not None:
                arrays["decayed_sim"] = cosines(candidates, self.decayed_means)
            if self.interests is not None:
                best, weighted = self.interests.similarities(candidates)
                arrays["max_sim"], arrays["weighted_sim"] = best[:, None], weighted[:, None]
        if keys is not None and self.spec.seen is not None:
            arrays["seen_count"], arrays["seen_age_ms"] = _seen(self.spec, self.history, self.now, keys)
        return arrays


def member_features(
    spec: WindowedFeaturesSpec, history: ActorHistory, now: int, kinds: Collection[str] | None = None
) -> MemberFeatures:
    """The member-level features of ``history`` at ``now``; ``kinds`` limits the costly families to those asked."""
    asked = KINDS.keys() if kinds is None else kinds
    masks = _masks(spec.verbs, spec.windows, now, history.ts, history.verbs)
    has_emb = history.embeddings is not None and history.has_embedding is not None
    means = _means(masks, history.embeddings, history.has_embedding) if has_emb else None  # type: ignore[arg-type]
    decayed_counts, decayed_means = np.zeros(len(spec.verbs) * len(spec.decays)), None
    if spec.decays and not _DECAY_KINDS.isdisjoint(asked):
        decayed_counts, decayed_means = _decayed(spec, history, now)
    interests = None
    if spec.interests is not None and not _INTEREST_KINDS.isdisjoint(asked):
        interests = _interests(spec, history, now)
    return MemberFeatures(spec, history, now, masks.sum(axis=1), means, decayed_counts, decayed_means, interests)


def _decayed(spec: WindowedFeaturesSpec, history: ActorHistory, now: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per (verb, half-life): the sum of the weights and the weighted mean embedding.

    The mean's weights are taken relative to the newest action with an
    embedding (the same mean), so it exists however old the actions are.
    """
    ts, emb, has_emb = history.ts, history.embeddings, history.has_embedding
    counts, means = [], []
    for verb in spec.verbs:
        chosen = (history.verbs == verb) & (ts <= now)
        with_emb = chosen if has_emb is None else chosen & has_emb
        newest = int(ts[with_emb].max()) if with_emb.any() else now
        for decay in spec.decays:
            counts.append(float(decay_weights(ts[chosen], now, decay.half_life_ms).sum()))
            if emb is not None:
                weights = decay_weights(ts[with_emb], newest, decay.half_life_ms)
                total = weights.sum()
                means.append(weights @ emb[with_emb] / total if total > 0 else np.zeros(emb.shape[1]))
    return np.array(counts), (np.array(means).reshape(len(counts), -1) if emb is not None else None)


def _interests(spec: WindowedFeaturesSpec, history: ActorHistory, now: int) -> MemberInterests:
    assert spec.interests is not None
    chosen = np.isin(history.verbs, spec.interests.verbs) & (history.ts <= now)
    if history.has_embedding is not None:
        chosen &= history.has_embedding
    emb = history.embeddings if history.embeddings is not None else np.zeros((len(history.ts), spec.embedding_dim))
    # history order is kept: member_interests breaks its ties by it
    return member_interests(spec.interests, history.ts[chosen], emb[chosen], now)


def _seen(
    spec: WindowedFeaturesSpec, history: ActorHistory, now: int, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate and (verb, window): actions on exactly its object, and the newest one's age."""
    assert spec.seen is not None and history.object_keys is not None
    masks = _masks(spec.verbs, spec.seen.windows, now, history.ts, history.verbs)
    on_candidate = history.object_keys[None, :] == keys[:, None]  # (rows, n), _NO_KEY matches nothing
    hits = on_candidate[:, None, :] & masks[None, :, :]  # (rows, pairs, n)
    counts = hits.sum(axis=2)
    never = np.iinfo(np.int64).min
    newest = np.where(hits, history.ts[None, None, :], never).max(axis=2, initial=never)
    return counts, np.where(counts > 0, now - newest, NO_SEEN_AGE)


def candidate_matrix(spec: WindowedFeaturesSpec, candidates: Sequence[Any]) -> np.ndarray:
    """Candidate embeddings as (k, dim) float64; a missing one (None, a null) or one of another length is a zero row."""
    out = np.zeros((len(candidates), spec.embedding_dim))
    for i, candidate in enumerate(candidates):
        if np.ndim(candidate) == 1 and len(candidate) == spec.embedding_dim:  # not None, pd.NA, ...
            out[i] = np.asarray(candidate, dtype=np.float64)
    return out


def _masks(verbs: tuple[str, ...], windows: tuple[WindowSpec, ...], now: int, ts: np.ndarray,
           actions: np.ndarray) -> np.ndarray:
    """Boolean (verbs * windows, actions): which actions each (verb, window) covers."""
    by_verb = np.array([actions == v for v in verbs], dtype=bool).reshape(len(verbs), len(ts))
    lengths = np.array([w.length_ms for w in windows], dtype=np.int64)
    by_window = (ts[None, :] > now - lengths[:, None]) & (ts[None, :] <= now)
    return (by_verb[:, None, :] & by_window[None, :, :]).reshape(len(verbs) * len(windows), len(ts))


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
    if not np.isin(verbs, spec.read_verbs).any():
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
