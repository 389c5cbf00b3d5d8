"""One-line declarations of action logs, histories and windowed features.

Each helper returns a plain Feast object (``FeatureView`` or
``OnDemandFeatureView``) whose tags carry a frozen spec, so it survives the
registry round-trip and every process sees the same definition.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from feast import Entity, FeatureView, Field, FileSource, OnDemandFeatureView, PushSource, RequestSource
from feast.data_format import ParquetFormat
from feast.types import Array, Bytes, FeastType, Float32, Float64, Int64, String
from feast.value_type import ValueType
from pydantic import BaseModel, ValidationError

from feast_pinot.errors import DeclarationError
from feast_pinot.features import output_names
from feast_pinot.specs import (
    HISTORY_FEATURES,
    ActionLogSpec,
    AttributeJoinSpec,
    DecaySpec,
    HistorySpec,
    InterestsSpec,
    SeenSpec,
    WindowedFeaturesSpec,
    WindowSpec,
    spec_of,
    spec_tags,
)

__all__ = [
    "DEFAULT_RETENTION",
    "Interests",
    "ObjectAttribute",
    "action_history",
    "action_log",
    "windowed_action_features",
]

DEFAULT_RETENTION = timedelta(hours=96)
_FEAST_ODFV_WARNING = r"On demand feature view is an experimental feature\. .*does not scale well for offline retrieval"
_KEY_DTYPES = {ValueType.INT64: Int64, ValueType.STRING: String}
_Spec = TypeVar("_Spec", bound=BaseModel)
# spec fields whose helper argument has another name
_ARGUMENTS = {"retention_ms": "retention", "future_tolerance_ms": "future_tolerance",
              "actor_join_key": "actor", "length_ms": "windows"}
# an ObjectAttribute's fields, as AttributeJoinSpec names them
_ATTRIBUTE = {"object_prefix": "attribute.object_prefix", "feature": "attribute.feature"}


def _spec(kind: type[_Spec], declaring: str, renamed: Mapping[str, str] | None = None, /, **fields: Any) -> _Spec:
    """The spec, or a DeclarationError naming the argument (never pydantic's own error).

    ``renamed`` maps spec fields to this call's argument names, past :data:`_ARGUMENTS`.
    """
    try:
        return kind(**fields)
    except ValidationError as exc:
        names = {**_ARGUMENTS, **(renamed or {})}
        raise DeclarationError(f"{declaring}: " + "; ".join(_problem(e, names) for e in exc.errors())) from None


def _problem(error: Any, names: Mapping[str, str]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message  # a check across arguments names them itself
    field = str(error["loc"][0])
    return f"{names.get(field, field)}: {message} (got {error.get('input')!r})"


def _some(values: Sequence[Any] | Mapping[str, Any], argument: str, declaring: str) -> None:
    if len(values) == 0:
        raise DeclarationError(f"{declaring}: {argument} must not be empty, got {values!r}")


@dataclass(frozen=True)
class ObjectAttribute:
    """An attribute of the acted-on object, joined when a history is read.

    ``object_prefix`` is stripped from an action's ``object`` to get the
    attribute view's join key (``"job:222"`` -> ``222``).
    """

    view: FeatureView
    feature: str
    dim: int
    object_prefix: str = ""


@dataclass(frozen=True)
class Interests:
    """The multi-interest medoids of a windowed view (see :mod:`feast_pinot.interests`).

    ``k`` medoid slots, the most important clusters first; ``half_life`` of the
    decayed weights summed into a cluster's importance; ``verbs`` whose actions
    are clustered (None: the view's verbs); ``distance_threshold`` cuts the Ward
    tree at that merge height (None: into at most ``k`` clusters); outputs are
    named ``{prefix}_...``.
    """

    k: int = 5
    half_life: timedelta = timedelta(hours=24)
    verbs: Sequence[str] | None = None
    distance_threshold: float | None = None
    prefix: str = "interest"


def _ms(delta: timedelta, what: str) -> int:
    ms = int(delta / timedelta(milliseconds=1))
    if ms <= 0:
        # str(timedelta(hours=-1)) is "-1 day, 23:00:00": shown as "-1:00:00" instead
        shown = f"-{-delta}" if delta < timedelta(0) else str(delta)
        raise DeclarationError(f"{what} must be positive, got {shown}")
    return ms


def _actor_key(actor: Entity) -> tuple[str, bool]:
    if actor.value_type not in _KEY_DTYPES:
        raise DeclarationError(
            f"entity '{actor.name}' needs value_type INT64 or STRING to key an action log, "
            f"got {actor.value_type}"
        )
    return actor.join_key, actor.value_type == ValueType.INT64


def action_log(
    name: str,
    actor: Entity,
    verbs: Sequence[str],
    path: str,
    *,
    embedding_dim: int = 0,
    retention: timedelta = DEFAULT_RETENTION,
    max_actions: int = 200,
    future_tolerance: timedelta = timedelta(minutes=5),
    description: str = "",
    owner: str = "",
) -> FeatureView:
    """An append-only action log written through the push source ``{name}_push``.

    ``path`` is the offline log: a directory of Parquet part files (one folder
    per event date), relative to the feature repo. ``embedding_dim`` > 0 stores
    ``objectAttributes.embedding`` with each action; 0 leaves embeddings to a
    history's read-time join.
    """
    join_key, actor_is_int = _actor_key(actor)
    _some(verbs, "verbs", f"action_log '{name}'")
    if max_actions <= 0:
        raise DeclarationError(f"max_actions must be positive, got {max_actions}")
    if embedding_dim < 0:
        raise DeclarationError(f"embedding_dim must be >= 0, got {embedding_dim}")
    spec = _spec(
        ActionLogSpec, f"action_log '{name}'",
        name=name,
        actor_join_key=join_key,
        actor_is_int=actor_is_int,
        verbs=tuple(verbs),
        retention_ms=_ms(retention, "retention"),
        max_actions=max_actions,
        embedding_dim=embedding_dim,
        future_tolerance_ms=int(future_tolerance / timedelta(milliseconds=1)),
        path=path,
    )
    batch = FileSource(
        name=f"{name}_source",
        path=path,
        file_format=ParquetFormat(),
        timestamp_field="event_timestamp",
        tags=spec_tags(spec),
        description=f"offline action log of '{name}'",
    )
    schema = [
        Field(name=join_key, dtype=_KEY_DTYPES[actor.value_type]),
        Field(name="action_id", dtype=String),
        Field(name="verb", dtype=String),
        Field(name="object", dtype=String),
        Field(name="attributes", dtype=String),
    ]
    if embedding_dim:
        schema.append(Field(name="embedding", dtype=Array(Float32)))
    return FeatureView(
        name=name,
        entities=[actor],
        ttl=retention,
        schema=schema,
        source=PushSource(name=spec.push_source, batch_source=batch),
        online=True,
        tags=spec_tags(spec),
        description=description or f"action log: {', '.join(verbs)}",
        owner=owner,
    )


def _log_spec(log: FeatureView) -> ActionLogSpec:
    spec = spec_of(log, ActionLogSpec)
    if spec is None:
        raise DeclarationError(f"'{log.name}' is not an action log (declare it with action_log)")
    return spec


def _attribute_spec(attr: ObjectAttribute, declaring: str) -> AttributeJoinSpec:
    columns = attr.view.entity_columns
    if len(columns) != 1:
        raise DeclarationError(
            f"attribute view '{attr.view.name}' must have exactly one entity column in its "
            f"schema, got {[c.name for c in columns]}"
        )
    if attr.feature not in {f.name for f in attr.view.features}:
        raise DeclarationError(f"'{attr.view.name}' has no feature '{attr.feature}'")
    source = attr.view.batch_source
    if not isinstance(source, FileSource):
        raise DeclarationError(f"attribute view '{attr.view.name}' needs a FileSource")
    return _spec(
        AttributeJoinSpec, declaring, _ATTRIBUTE,
        feature_view=attr.view.name,
        feature=attr.feature,
        join_key=columns[0].name,
        key_is_int=columns[0].dtype == Int64,
        object_prefix=attr.object_prefix,
        path=source.path,
        timestamp_field=source.timestamp_field,
    )


def action_history(
    name: str,
    log: FeatureView,
    *,
    max_actions: int | None = None,
    attribute: ObjectAttribute | None = None,
) -> FeatureView:
    """The recent actions of each actor (newest first) as list-valued features.

    Features: ``action_ts`` (epoch ms), ``action_verbs``, ``action_objects`` and,
    when the log stores embeddings or ``attribute`` joins them at read time,
    ``action_embeddings`` (float32 little-endian bytes, row-major, ``n * dim``
    values: ``np.frombuffer(b, "<f4").reshape(-1, dim)``). At most ``max_actions``
    (default: the log's cap) within the log's retention.
    """
    log_spec = _log_spec(log)
    if attribute is not None and log_spec.embedding_dim:
        raise DeclarationError(
            f"log '{log.name}' already stores embeddings; a read-time attribute join "
            "would replace them. Use one or the other."
        )
    declaring = f"action_history '{name}'"
    join = _attribute_spec(attribute, declaring) if attribute else None
    spec = _spec(
        HistorySpec, declaring, {"embedding_dim": "attribute.dim"} if attribute else None,
        name=name,
        log=log_spec,
        max_actions=max_actions or log_spec.max_actions,
        embedding_dim=attribute.dim if attribute else log_spec.embedding_dim,
        attribute=join,
    )
    key_dtype = Int64 if log_spec.actor_is_int else String
    actor = Entity(
        name=log.entities[0],
        join_keys=[log_spec.actor_join_key],
        value_type=ValueType.INT64 if log_spec.actor_is_int else ValueType.STRING,
    )
    # Embeddings travel as raw float32 bytes: 200 x 64 floats as a proto list
    # would cost more than the whole rest of a request.
    dtypes: list[FeastType] = [Array(Int64), Array(String), Array(String), Bytes]
    features = list(zip(HISTORY_FEATURES, dtypes))[: 4 if spec.embedding_dim else 3]
    return FeatureView(
        name=name,
        entities=[actor],
        ttl=timedelta(milliseconds=log_spec.retention_ms),
        schema=[Field(name=log_spec.actor_join_key, dtype=key_dtype)]
        + [Field(name=n, dtype=t) for n, t in features],
        source=log.batch_source,
        online=False,  # never materialized: read from the log's online table
        tags=spec_tags(spec),
        description=f"recent actions from '{log.name}'",
    )


_Lengths = Mapping[str, timedelta] | Sequence[timedelta]


def _labelled(lengths: _Lengths) -> list[tuple[str, timedelta]]:
    return list(lengths.items()) if isinstance(lengths, Mapping) else [(_label(w), w) for w in lengths]


def _windows(windows: _Lengths, declaring: str, argument: str, log: ActionLogSpec) -> tuple[WindowSpec, ...]:
    specs = tuple(_spec(WindowSpec, declaring, label=label, length_ms=_ms(w, f"{declaring}: {argument} {label}"))
                  for label, w in _labelled(windows))
    for window in specs:
        # A history holds the retention and nothing older: a longer window would silently be the retention.
        # (A half-life longer than the retention is a weighting, not a span: it stays allowed.)
        if window.length_ms > log.retention_ms:
            length = _label(timedelta(milliseconds=window.length_ms))
            shown = window.label if window.label == length else f"{window.label} ({length})"
            raise DeclarationError(
                f"{declaring}: {argument} {shown} is longer than the retention "
                f"{_label(timedelta(milliseconds=log.retention_ms))} of log '{log.name}': "
                "a history holds no older action"
            )
    return specs


def _decays(half_lives: _Lengths, declaring: str) -> tuple[DecaySpec, ...]:
    return tuple(_spec(DecaySpec, declaring, label=label, half_life_ms=_ms(h, f"{declaring}: half_lives {label}"))
                 for label, h in _labelled(half_lives))


def _label(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _candidate_key(candidate: FeatureView | None) -> str | None:
    if candidate is None:
        return None
    features = candidate.projection.features
    if len(features) != 1:
        raise DeclarationError(
            f"candidate must project one embedding feature, e.g. {candidate.name}[['embedding']]"
        )
    return f"{candidate.projection.name_to_use()}__{features[0].name}"


def _seen(
    seen_windows: _Lengths, candidate: FeatureView | None, history: HistorySpec, object_prefix: str | None,
    declaring: str,
) -> SeenSpec | None:
    if not seen_windows:
        return None
    if candidate is None:
        raise DeclarationError(f"{declaring}: seen_windows needs candidate (the view keyed by the acted-on object)")
    columns = candidate.entity_columns
    if len(columns) != 1:
        raise DeclarationError(
            f"{declaring}: candidate '{candidate.name}' must have one entity column for seen_windows, "
            f"got {[c.name for c in columns]}"
        )
    if object_prefix is None:
        if history.attribute is None:
            raise DeclarationError(
                f"{declaring}: seen_windows needs object_prefix, the part of an action's object before "
                "the candidate's key (e.g. 'job:' for 'job:222')"
            )
        object_prefix = history.attribute.object_prefix
    key = columns[0].name
    return _spec(
        SeenSpec, declaring, {"windows": "seen_windows", "candidate_key": "candidate"},
        windows=_windows(seen_windows, declaring, "seen_windows", history.log),
        candidate_key=candidate.projection.join_key_map.get(key, key),
        object_prefix=object_prefix,
        key_is_int=columns[0].dtype == Int64,
    )


def _interests(interests: Interests | None, verbs: tuple[str, ...], history: HistorySpec,
               declaring: str) -> InterestsSpec | None:
    if interests is None:
        return None
    if not history.embedding_dim:
        raise DeclarationError(f"{declaring}: interests need embeddings, and '{history.name}' has none")
    if interests.verbs is not None:
        _some(interests.verbs, "interests.verbs", declaring + " (None: the view's verbs)")
    chosen = tuple(interests.verbs) if interests.verbs is not None else verbs
    _known_verbs(chosen, history, "interests.verbs", declaring)
    fields = {"k": "interests.k", "half_life_ms": "interests.half_life", "verbs": "interests.verbs",
              "distance_threshold": "interests.distance_threshold", "prefix": "interests.prefix"}
    return _spec(
        InterestsSpec, declaring, fields,
        verbs=chosen, k=interests.k, half_life_ms=_ms(interests.half_life, f"{declaring}: interests.half_life"),
        distance_threshold=interests.distance_threshold, prefix=interests.prefix,
    )


def _known_verbs(verbs: Sequence[str], history: HistorySpec, argument: str, declaring: str) -> None:
    unknown = sorted(set(verbs) - set(history.log.verbs))
    if unknown:
        raise DeclarationError(f"{declaring}: {argument} {unknown} are not declared by log '{history.log.name}'")


def _udf_source(function_name: str, spec: WindowedFeaturesSpec) -> str:
    # Feast re-executes this text with only np/pd in scope, so the import lives inside.
    return (
        f"def {function_name}(inputs):\n"
        "    from feast_pinot.features import windowed_features\n"
        f"    return windowed_features(inputs, {spec.model_dump_json()!r})\n"
    )


def _quiet_feast_odfv_warning() -> None:
    """Hide Feast's "on demand feature views ... do not scale well for offline retrieval" in this process.

    Feast warns on every apply and plan of a repo with on-demand views; for a
    windowed view it is untrue (its training data is computed by the offline
    store's engine over whole columns, not a Python call per row). A process
    that declares one gets this one message of Feast's filtered (only it: the
    same text from Feast, nothing else).
    """
    warnings.filterwarnings("ignore", message=_FEAST_ODFV_WARNING, category=RuntimeWarning)


def windowed_action_features(
    name: str,
    history: FeatureView,
    windows: _Lengths = (),
    *,
    verbs: Sequence[str] | None = None,
    candidate: FeatureView | None = None,
    half_lives: _Lengths = (),
    interests: Interests | None = None,
    seen_windows: _Lengths = (),
    object_prefix: str | None = None,
) -> OnDemandFeatureView:
    """Per verb and window: action count, mean embedding, similarity to a candidate; and optionally more.

    ``half_lives`` adds time-decayed counts, means and similarities per verb;
    ``interests`` the member's multi-interest medoids (:class:`Interests`);
    ``seen_windows`` what the member already did to the row's candidate object
    (its key from ``candidate``'s join key; ``object_prefix`` as in
    :class:`ObjectAttribute`, by default the history's own).

    Needs the request field ``request_ts`` (epoch ms) in every entity row; see
    :mod:`feast_pinot.features` and docs/configuration.md for the exact
    definitions and empty-case values. ``candidate`` is a one-feature
    projection such as ``job_attributes[["embedding"]]``.
    """
    hspec = spec_of(history, HistorySpec)
    if hspec is None:
        raise DeclarationError(f"'{history.name}' is not a history (declare it with action_history)")
    declaring = f"windowed_action_features '{name}'"
    if verbs is not None:
        _some(verbs, "verbs", declaring + " (None: every verb of the log)")
    chosen = tuple(verbs) if verbs is not None else hspec.log.verbs
    _known_verbs(chosen, hspec, "verbs", declaring)
    if not (half_lives or interests or seen_windows):
        _some(windows, "windows", declaring + " (or declare half_lives, interests or seen_windows)")
    spec = _spec(
        WindowedFeaturesSpec, declaring,
        view=name,
        history=history.name,
        verbs=chosen,
        windows=_windows(windows, declaring, "windows", hspec.log),
        embedding_dim=hspec.embedding_dim,
        candidate=_candidate_key(candidate) if hspec.embedding_dim else None,
        decays=_decays(half_lives, declaring),
        interests=_interests(interests, chosen, hspec, declaring),
        seen=_seen(seen_windows, candidate, hspec, object_prefix, declaring),
    )
    _quiet_feast_odfv_warning()
    function_name = "windowed_" + "".join(c if c.isalnum() else "_" for c in name)
    source = _udf_source(function_name, spec)
    namespace: dict[str, object] = {}
    exec(source, namespace)
    dtypes: dict[str, FeastType] = {"int": Int64, "vector": Array(Float32), "float": Float64}
    schema = [Field(name=n, dtype=dtypes[output.value]) for n, output in output_names(spec).items()]
    used = list(HISTORY_FEATURES[:2]) + (["action_objects"] if spec.seen else [])
    used += ["action_embeddings"] if spec.embedding_dim else []
    sources: list[Any] = [
        history[used],
        RequestSource(name=f"{name}_request", schema=[Field(name="request_ts", dtype=Int64)]),
    ]
    if candidate is not None and (spec.candidate or spec.seen):
        sources.append(candidate)
    return OnDemandFeatureView(
        name=name,
        sources=sources,
        schema=schema,
        udf=namespace[function_name],  # type: ignore[arg-type]
        udf_string=source,
        mode="python",
        tags=spec_tags(spec),
        description=f"windowed features of '{history.name}'",
    )
