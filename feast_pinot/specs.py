"""Frozen specs that the declaration helpers store in a feature view's tags.

Feast keeps tags through the registry round-trip, so a plain ``FeatureView``
carrying a spec tag is rebuilt exactly in every process (``feast serve``, the
ingester, the offline store) without subclassing anything the registry cannot
reload.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from feast_pinot.keys import object_key
from feast_pinot.offline.storage import uri_problem

__all__ = [
    "HISTORY_FEATURES",
    "KIND_TAG",
    "SPEC_TAG",
    "ActionLogSpec",
    "AnySpec",
    "AttributeJoinSpec",
    "DecaySpec",
    "HistorySpec",
    "HistoryWindow",
    "InterestsSpec",
    "SeenSpec",
    "WindowSpec",
    "WindowedFeaturesSpec",
    "spec_of",
    "spec_tags",
]

SPEC_TAG = "feast_pinot.spec"
KIND_TAG = "feast_pinot.kind"

# The list-valued features of every history view, newest action first.
HISTORY_FEATURES = ("action_ts", "action_verbs", "action_objects", "action_embeddings")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """Actions with ``since_ms < ts <= until_ms``, the newest ``limit`` of them."""

    since_ms: int
    until_ms: int
    limit: int


class ActionLogSpec(_Spec):
    """An append-only log of actions in the standard action schema."""

    kind: Literal["action_log"] = "action_log"
    name: str
    actor_join_key: str
    actor_is_int: bool
    verbs: tuple[str, ...] = Field(min_length=1)
    retention_ms: int = Field(gt=0)
    max_actions: int = Field(gt=0)
    embedding_dim: int = Field(ge=0, description="0: no embedding stored with actions")
    future_tolerance_ms: int = Field(ge=0)
    path: str = Field(description="offline action log directory (Parquet parts): a path or a filesystem URI")

    @model_validator(mode="after")
    def _no_secret_in_path(self) -> ActionLogSpec:
        # across the model, not on the field: a field's error would quote the value, secret included
        problem = uri_problem(self.path)
        if problem is not None:
            raise ValueError(f"path: {problem}")
        return self

    @property
    def push_source(self) -> str:
        return f"{self.name}_push"

    def window(self, now_ms: int, limit: int | None = None) -> HistoryWindow:
        """What a read at ``now_ms`` returns: within retention, the newest ``limit`` (default: the log's cap)."""
        return HistoryWindow(now_ms - self.retention_ms, now_ms, self.max_actions if limit is None else limit)


class AttributeJoinSpec(_Spec):
    """Join an object attribute (e.g. a job embedding) when a history is read."""

    feature_view: str
    feature: str
    join_key: str
    key_is_int: bool
    object_prefix: str
    path: str = Field(description="the attribute view's Parquet source, for training data")
    timestamp_field: str

    def object_key(self, obj: str) -> int | str | None:
        """The attribute view's join-key value for an action's object, or None.

        The online and the offline join both call this, so an object has a
        joined attribute in both or in neither.
        """
        return object_key(obj, self.object_prefix, self.key_is_int)


class HistorySpec(_Spec):
    """The recent-action history of each actor, read from an action log."""

    kind: Literal["action_history"] = "action_history"
    name: str
    log: ActionLogSpec
    max_actions: int = Field(gt=0)
    embedding_dim: int = Field(ge=0)
    attribute: AttributeJoinSpec | None = None

    @model_validator(mode="after")
    def _cap_within_log(self) -> HistorySpec:
        if self.max_actions > self.log.max_actions:
            raise ValueError(
                f"max_actions={self.max_actions} exceeds the log's cap "
                f"{self.log.max_actions}: the log never keeps that many"
            )
        return self

    def window(self, now_ms: int) -> HistoryWindow:
        """What this history holds at ``now_ms``: the log's retention, this view's cap."""
        return self.log.window(now_ms, self.max_actions)


class WindowSpec(_Spec):
    label: str
    length_ms: int = Field(gt=0)


class DecaySpec(_Spec):
    """A half-life of the time-decayed features: weight ``2^(-(t - ts) / h)``."""

    label: str
    half_life_ms: int = Field(gt=0)


class InterestsSpec(_Spec):
    """Multi-interest medoids: Ward clusters of the embeddings of ``verbs``."""

    verbs: tuple[str, ...] = Field(min_length=1)
    k: int = Field(gt=0, description="medoid slots output, the most important clusters first")
    half_life_ms: int = Field(gt=0, description="of the decayed weights summed into a cluster's importance")
    distance_threshold: float | None = Field(
        default=None, gt=0, description="cut the Ward tree at this merge height; None: into at most k clusters"
    )
    prefix: str = "interest"


class SeenSpec(_Spec):
    """What the member already did to the row's candidate object, per verb and window."""

    windows: tuple[WindowSpec, ...] = Field(min_length=1)
    candidate_key: str = Field(description="the entity-row column holding the candidate's join key")
    object_prefix: str
    key_is_int: bool

    def object_key(self, obj: str) -> int | str | None:
        """An action object's candidate key, parsed as the read-time attribute join parses it."""
        return object_key(obj, self.object_prefix, self.key_is_int)


class WindowedFeaturesSpec(_Spec):
    """Inputs and outputs of a windowed on-demand feature view."""

    kind: Literal["windowed_features"] = "windowed_features"
    view: str
    history: str
    verbs: tuple[str, ...] = Field(min_length=1)
    windows: tuple[WindowSpec, ...] = ()
    embedding_dim: int = Field(ge=0)
    candidate: str | None = Field(default=None, description="'view__feature' input key")
    request_field: str = "request_ts"
    decays: tuple[DecaySpec, ...] = ()
    interests: InterestsSpec | None = None
    seen: SeenSpec | None = None

    @model_validator(mode="after")
    def _declares_features(self) -> WindowedFeaturesSpec:
        if not (self.windows or self.decays or self.interests or self.seen):
            raise ValueError("declares no features: give windows, half_lives, interests or seen_windows")
        return self

    @property
    def read_verbs(self) -> tuple[str, ...]:
        """Every verb any output reads: the windowed verbs, then the interests' others."""
        extra = self.interests.verbs if self.interests else ()
        return self.verbs + tuple(v for v in dict.fromkeys(extra) if v not in self.verbs)


AnySpec = ActionLogSpec | HistorySpec | WindowedFeaturesSpec
_any_spec = TypeAdapter(Annotated[AnySpec, Field(discriminator="kind")])
_S = TypeVar("_S", ActionLogSpec, HistorySpec, WindowedFeaturesSpec)


def spec_tags(spec: AnySpec) -> dict[str, str]:
    return {KIND_TAG: spec.kind, SPEC_TAG: spec.model_dump_json()}


@functools.lru_cache(maxsize=256)
def _parse(raw: str) -> AnySpec:
    return _any_spec.validate_json(raw)


@overload
def spec_of(obj: object) -> AnySpec | None: ...


@overload
def spec_of(obj: object, kind: type[_S]) -> _S | None: ...


def spec_of(obj: object, kind: type[_Spec] | None = None) -> _Spec | None:
    """The spec stored in a feature view's (or data source's) tags, if any.

    With ``kind``, only a spec of that class: None for any other, so
    ``spec_of(view, HistorySpec)`` is typed ``HistorySpec | None``.
    """
    tags = getattr(obj, "tags", None) or {}
    raw = tags.get(SPEC_TAG)
    spec = _parse(raw) if raw else None
    return spec if kind is None or isinstance(spec, kind) else None
