"""The ingester's config file: frozen, strict pydantic models validated at load.

Unknown keys and bad values fail at load with a message naming the key
(``shapes.job_interaction.verb.map``). Checks that need the Feast repo (verbs
the action log declares, features that exist) run once the repo is opened, in
:func:`check_against_repo`, and name the key the same way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from feast_pinot.credentials import masked
from feast_pinot.specs import ActionLogSpec, HistorySpec
from stream_ingest.errors import ConfigError

__all__ = [
    "EMBEDDING_TARGET",
    "ConstantVerb",
    "FeastConfig",
    "IngestConfig",
    "KafkaConfig",
    "LookupConfig",
    "MappedVerb",
    "ShapeConfig",
    "check_against_repo",
    "load_config",
]

# A dotted path into a raw event's JSON ("member.id").
FieldPath = Annotated[str, Field(pattern=r"^[A-Za-z_][\w\-]*(\.[\w\-]+)*$")]
# Where a value goes in the standard action ("verbAttributes.surface").
AttributeTarget = Annotated[
    str, Field(pattern=r"^(actorAttributes|verbAttributes|objectAttributes)\.[\w\-]+$")
]
EMBEDDING_TARGET = "objectAttributes.embedding"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class KafkaConfig(_Model):
    bootstrap_servers: str = Field(min_length=1)
    """host:port[,host:port...] of the Kafka cluster."""
    group_id: str = Field(min_length=1)
    """Consumer group; every process of one ingester uses the same id."""
    topics: tuple[str, ...] = Field(min_length=1)
    """Raw topics to consume."""
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    """Where a group with no committed offset starts."""
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    """A process silent this long is dropped from the group (its partitions move)."""
    heartbeat_interval_ms: int = Field(default=1_000, ge=100)
    """Heartbeat period; must be below session_timeout_ms."""
    fetch_wait_max_ms: int = Field(default=20, ge=1, le=5_000)
    """Longest a fetch waits for data. Kafka answers as soon as data arrives;
    brokers that do not (Tansu) add up to this much latency to every event."""
    unavailable_timeout_s: float = Field(default=60.0, gt=0)
    """Exit (non-zero, nothing committed) when no broker answers for this long."""
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Extra librdkafka settings for the consumer and the dead-letter producer."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, masked(value) if name == "properties" else value  # sasl.password and the like

    @model_validator(mode="after")
    def _heartbeat_below_session(self) -> KafkaConfig:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError(
                f"heartbeat_interval_ms ({self.heartbeat_interval_ms}) must be below "
                f"session_timeout_ms ({self.session_timeout_ms})"
            )
        return self


class FeastConfig(_Model):
    repo_path: Path = Path(".")
    """The Feast feature repo; relative to the config file's folder."""
    action_log: str = Field(min_length=1)
    """The action log feature view the actions are written to."""


class MatchConfig(_Model):
    field: FieldPath
    """The raw field that tells the shape apart."""
    equals: str | int | bool
    """The value it must have."""


class ObjectConfig(_Model):
    field: FieldPath
    """The raw field holding the object's id."""
    prefix: str = ""
    """Prepended to the id: ``prefix: "job:"`` turns 222 into ``job:222``."""


class ConstantVerb(_Model):
    value: str = Field(min_length=1)
    """Every event of the shape has this verb."""


class MappedVerb(_Model):
    field: FieldPath
    """The raw field whose value decides the verb."""
    map: dict[str, str] = Field(min_length=1)
    """Raw value -> verb."""
    ignore: tuple[str, ...] = ()
    """Raw values not of interest: skipped and counted, not dead-lettered."""

    @model_validator(mode="after")
    def _ignore_disjoint(self) -> MappedVerb:
        both = sorted(set(self.ignore) & set(self.map))
        if both:
            raise ValueError(f"values both mapped and ignored: {both}")
        return self


class TimestampConfig(_Model):
    field: FieldPath
    """The raw field holding the event time."""
    unit: Literal["ms", "s", "iso8601"] = "ms"
    """Epoch milliseconds, epoch seconds, or an ISO-8601 string with a time zone."""


class ShapeConfig(_Model):
    topics: tuple[str, ...] = ()
    """Only events from these topics can have this shape (empty: any source topic)."""
    when: MatchConfig | None = None
    """How to recognise the shape; without it every JSON object from ``topics`` matches."""
    action_id: FieldPath | None = None
    """A producer-assigned unique id; default: ``topic/partition/offset``."""
    actor: FieldPath
    """The raw field holding the actor's join-key value."""
    object: ObjectConfig
    verb: ConstantVerb | MappedVerb
    timestamp: TimestampConfig
    attributes: dict[AttributeTarget, FieldPath] = Field(default_factory=dict)
    """Action attribute -> raw field, e.g. ``verbAttributes.surface: context.surface``."""

    def verbs(self) -> dict[str, str]:
        """Every verb the shape can produce, with the config key that names it."""
        if isinstance(self.verb, ConstantVerb):
            return {self.verb.value: "verb.value"}
        return {verb: f"verb.map.{raw}" for raw, verb in self.verb.map.items()}


class LookupConfig(_Model):
    feature: str = Field(pattern=r"^[\w\-]+:[\w\-]+$")
    """``feature_view:feature`` read from Feast's online store."""
    key: Literal["object", "actor"] = "object"
    """Which action field keys the lookup."""
    key_prefix: str = ""
    """Stripped from the key: ``job:`` turns ``job:222`` into the join key 222."""
    into: AttributeTarget
    """Where the value goes in the action, e.g. ``objectAttributes.embedding``."""
    join: Literal["ingest", "read_time"] = "ingest"
    """``ingest``: stored with each action; ``read_time``: the history joins it when read."""
    required: bool = True
    """Dead-letter an event whose key has no value (else the attribute is left out)."""
    ttl_s: float = Field(default=300.0, gt=0)
    """How long a looked-up value (or its absence) is reused."""
    max_entries: int = Field(default=100_000, gt=0)
    """Cache size; the oldest entries go first."""


class BatchConfig(_Model):
    max_events: int = Field(default=2_000, ge=1, le=100_000)
    """Most events per micro-batch."""
    linger_ms: int = Field(default=20, ge=0, le=10_000)
    """How long a micro-batch waits to fill; bounds the added latency."""


class OnlineConfig(_Model):
    write: Literal["auto", "push", "direct"] = "auto"
    """``push``: Feast's push API (any online store). ``direct``: the feast_pinot
    backend's append path, skipping Feast's DataFrame-to-proto conversion.
    ``auto``: direct when the online store is a feast_pinot store, else push."""


class OfflineConfig(_Model):
    path: str | None = None
    """Offline action log folder or URI (``s3://...``); default: the action log's own path in the repo."""
    flush_interval_ms: int = Field(default=5_000, ge=0)
    """Parquet parts are written at most this often; offsets are committed after them."""
    max_rows: int = Field(default=100_000, gt=0)
    """Write a part early when this many actions are buffered."""


class DeadLetterConfig(_Model):
    topic: str = Field(min_length=1)
    """Topic for events that cannot become actions (JSON with the original bytes)."""


class RetryConfig(_Model):
    attempts: int = Field(default=6, ge=1)
    """Tries of an I/O call failing with a transient error (sink write, dead-letter
    delivery, lookup; an offset commit: checkpoints in a row) before the process gives up."""
    initial_backoff_ms: int = Field(default=200, gt=0)
    """First wait; doubled after each failure."""
    max_backoff_ms: int = Field(default=5_000, gt=0)
    """Longest wait between tries."""


class StatusConfig(_Model):
    interval_s: float = Field(default=10.0, gt=0)
    """Seconds between status lines on stderr."""


class IngestConfig(_Model):
    kafka: KafkaConfig
    feast: FeastConfig
    shapes: dict[str, ShapeConfig] = Field(min_length=1)
    """Raw event shapes by name, tried in order; the first that matches wins."""
    lookups: dict[str, LookupConfig] = Field(default_factory=dict)
    """Attribute lookups by name."""
    dead_letter: DeadLetterConfig
    batch: BatchConfig = BatchConfig()
    online: OnlineConfig = OnlineConfig()
    offline: OfflineConfig = OfflineConfig()
    retry: RetryConfig = RetryConfig()
    status: StatusConfig = StatusConfig()

    @model_validator(mode="after")
    def _consistent(self) -> IngestConfig:
        for name, shape in self.shapes.items():
            unknown = sorted(set(shape.topics) - set(self.kafka.topics))
            if unknown:
                raise ValueError(f"shapes.{name}.topics: {unknown} are not in kafka.topics")
        if self.dead_letter.topic in self.kafka.topics:
            raise ValueError("dead_letter.topic must not be one of kafka.topics")
        _no_duplicate_targets(self.shapes, self.lookups)
        return self

    def ingest_lookups(self) -> dict[str, LookupConfig]:
        """The lookups the ingester performs (read-time ones are the history's job)."""
        return {name: lk for name, lk in self.lookups.items() if lk.join == "ingest"}


def _no_duplicate_targets(shapes: Mapping[str, ShapeConfig], lookups: Mapping[str, LookupConfig]) -> None:
    seen: dict[str, str] = {}
    for name, lookup in lookups.items():
        if lookup.into in seen:
            raise ValueError(f"lookups.{name}.into: {lookup.into} is also filled by lookups.{seen[lookup.into]}")
        seen[lookup.into] = name
    for shape_name, shape in shapes.items():
        for target in shape.attributes:
            if target in seen:
                raise ValueError(
                    f"shapes.{shape_name}.attributes.{target}: also filled by lookups.{seen[target]}"
                )


def _error_lines(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        got = f" (got {err['input']!r})" if err["type"] != "missing" and not isinstance(err["input"], dict) else ""
        lines.append(f"  {key}: {err['msg']}{got}")
    return lines


def parse_config(raw: Any, source: str = "config") -> IngestConfig:
    """Validate an already-loaded config mapping."""
    try:
        return IngestConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(_error_lines(exc))) from None


def load_config(path: str | Path, bootstrap_servers: str | None = None) -> IngestConfig:
    """Read and validate a YAML config; ``feast.repo_path`` becomes absolute.

    ``${VAR}`` is replaced by the environment variable (an unset one is an
    error). ``bootstrap_servers`` overrides ``kafka.bootstrap_servers`` (one config file
    can then serve every environment).
    """
    path = Path(path)
    try:  # ${VAR} comes from the environment, as in Feast's feature_store.yaml (credentials)
        raw = yaml.safe_load(os.path.expandvars(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    unset = re.search(r"\$\{(\w+)\}", json.dumps(raw))
    if unset:
        raise ConfigError(f"{path}: environment variable {unset.group(1)} is not set")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    if bootstrap_servers:
        raw.setdefault("kafka", {})["bootstrap_servers"] = bootstrap_servers
    config = parse_config(raw, str(path))
    repo = (path.parent / config.feast.repo_path).resolve()
    return config.model_copy(update={"feast": config.feast.model_copy(update={"repo_path": repo})})


def check_against_repo(config: IngestConfig, spec: ActionLogSpec, histories: Iterable[HistorySpec]) -> None:
    """The checks that need the Feast repo: verbs, embeddings, read-time joins."""
    for name, shape in config.shapes.items():
        for verb, key in shape.verbs().items():
            if verb not in spec.verbs:
                raise ConfigError(
                    f"shapes.{name}.{key}: {verb!r} is not a verb of action log "
                    f"'{spec.name}' (it declares {list(spec.verbs)})"
                )
    _check_embedding(config, spec)
    joined = {
        f"{h.attribute.feature_view}:{h.attribute.feature}"
        for h in histories if h.log.name == spec.name and h.attribute is not None
    }
    for name, lookup in config.lookups.items():
        if lookup.join == "read_time" and lookup.feature not in joined:
            raise ConfigError(
                f"lookups.{name}.join: read_time, but no history of '{spec.name}' "
                f"joins {lookup.feature} when read"
            )


def _check_embedding(config: IngestConfig, spec: ActionLogSpec) -> None:
    fills = [f"lookups.{n}" for n, lk in config.ingest_lookups().items() if lk.into == EMBEDDING_TARGET]
    fills += [f"shapes.{n}.attributes" for n, s in config.shapes.items() if EMBEDDING_TARGET in s.attributes]
    if spec.embedding_dim == 0 and fills:
        raise ConfigError(
            f"{fills[0]}: action log '{spec.name}' stores no embeddings "
            "(join them at read time: join: read_time)"
        )
    if spec.embedding_dim and not fills:
        raise ConfigError(
            f"lookups: action log '{spec.name}' needs {EMBEDDING_TARGET} "
            f"({spec.embedding_dim} floats); add a lookup with into: {EMBEDDING_TARGET}"
        )
