"""The pure, named steps of the pipeline: parse, keep, enrich, standardize.

Each step takes one record and returns the next record, a :class:`Skipped`
or a :class:`DeadLetter` naming the step and the reason; none does I/O. What
a step raises all the same (a bug, or input nobody foresaw: JSON nested
deeper than the recursion limit) the pipeline turns into a dead letter of
that step. Enrichment gets the looked-up values as an argument
(the pipeline batches the lookups), so every step is testable alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from feast_pinot.actions import Action, datetime_to_ms, validate_action
from feast_pinot.keys import object_key
from feast_pinot.specs import ActionLogSpec
from stream_ingest.config import ConstantVerb, LookupConfig, ShapeConfig
from stream_ingest.lookups import Key
from stream_ingest.records import (
    DeadLetter,
    EnrichedEvent,
    KeptEvent,
    ParsedEvent,
    RawEvent,
    Skipped,
)

__all__ = [
    "ENRICH",
    "KEEP",
    "PARSE",
    "STANDARDIZE",
    "BadKey",
    "LookupUse",
    "enrich",
    "keep",
    "lookup_keys",
    "parse",
    "standardize",
]

PARSE, KEEP, ENRICH, STANDARDIZE = "parse", "keep", "enrich", "standardize"
_MISSING = object()


class _Bad(Exception):
    """Internal: the reason an event cannot go on (becomes a DeadLetter)."""


@dataclass(frozen=True, slots=True)
class LookupUse:
    """A configured ingest-time lookup and the key type of its store."""

    name: str
    config: LookupConfig
    key_is_int: bool


@lru_cache(maxsize=1024)
def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _get(body: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path; ``_MISSING`` when absent or JSON null."""
    value: Any = body
    for part in _split(path):
        if not isinstance(value, dict) or value.get(part) is None:  # JSON objects decode to dicts
            return _MISSING
        value = value[part]
    return value


def _require(body: Mapping[str, Any], path: str, role: str) -> Any:
    value = _get(body, path)
    if value is _MISSING:
        raise _Bad(f"missing field '{path}' ({role})")
    return value


def _matches(shape: ShapeConfig, topic: str, body: Mapping[str, Any]) -> bool:
    if shape.topics and topic not in shape.topics:
        return False
    if shape.when is None:
        return True
    value = _get(body, shape.when.field)
    # type check too: JSON true must not match 1
    return type(value) is type(shape.when.equals) and value == shape.when.equals


def parse(event: RawEvent, shapes: Mapping[str, ShapeConfig]) -> ParsedEvent | DeadLetter:
    """Decode the JSON object and recognise its shape."""
    if event.value is None:
        return DeadLetter(event, PARSE, "empty message (no value)")
    try:
        body = json.loads(event.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return DeadLetter(event, PARSE, f"not valid JSON: {exc}")
    if not isinstance(body, dict):
        return DeadLetter(event, PARSE, f"expected a JSON object, got {type(body).__name__}")
    for name, shape in shapes.items():
        if _matches(shape, event.topic, body):
            return ParsedEvent(event, name, shape, body)
    return DeadLetter(event, PARSE, f"matches no event shape (tried {', '.join(shapes)})")


def keep(parsed: ParsedEvent) -> KeptEvent | Skipped | DeadLetter:
    """Resolve the verb; keep the verbs of interest, skip the ignored ones."""
    verb = parsed.shape.verb
    if isinstance(verb, ConstantVerb):
        return KeptEvent(parsed, verb.value)
    raw = _get(parsed.body, verb.field)
    if raw is _MISSING:
        return DeadLetter(parsed.event, KEEP, f"missing field '{verb.field}' (verb)")
    if raw in verb.ignore:
        return Skipped(parsed.event, KEEP, f"{verb.field}={raw!r} is not of interest")
    if isinstance(raw, str) and raw in verb.map:
        return KeptEvent(parsed, verb.map[raw])
    return DeadLetter(
        parsed.event,
        KEEP,
        f"unknown verb: {verb.field}={raw!r} is neither mapped nor ignored "
        f"(shape {parsed.shape_name} maps {sorted(verb.map)})",
    )


def _object(parsed: ParsedEvent) -> str:
    spec = parsed.shape.object
    value = _require(parsed.body, spec.field, "object")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(f"'{spec.field}' must be a string or integer id, got {value!r}")
    return f"{spec.prefix}{value}"


def _key(parsed: ParsedEvent, use: LookupUse) -> Key:
    prefix = use.config.key_prefix
    if use.config.key == "actor":
        value = _require(parsed.body, parsed.shape.actor, "actor")
        text = str(value)
    else:
        text = _object(parsed)
    key = object_key(
        text, prefix, use.key_is_int
    )  # the read-time join's rule: what one join keys on, the other does too
    if key is not None:
        return key
    if not text.startswith(prefix):
        raise _Bad(f"{use.config.key} {text!r} does not start with {prefix!r} (lookups.{use.name})")
    raise _Bad(f"{use.config.key} {text!r} does not give an int64 key (lookups.{use.name})")


@dataclass(frozen=True, slots=True)
class BadKey:
    """Why an event has no valid key for a lookup."""

    reason: str


def lookup_keys(parsed: ParsedEvent, uses: tuple[LookupUse, ...]) -> tuple[Key | BadKey, ...]:
    """The key the event asks each lookup for, in the order of ``uses``."""
    keys: list[Key | BadKey] = []
    for use in uses:
        try:
            keys.append(_key(parsed, use))
        except _Bad as bad:
            keys.append(BadKey(str(bad)))
    return tuple(keys)


def enrich(
    kept: KeptEvent,
    uses: tuple[LookupUse, ...],
    keys: tuple[Key | BadKey, ...],
    found: Mapping[str, Mapping[Key, Any]],
) -> EnrichedEvent | DeadLetter:
    """Attach looked-up attributes; a required one that is missing dead-letters the event.

    ``keys`` comes from :func:`lookup_keys`; ``found`` maps each lookup to its values.
    """
    looked_up: dict[str, Any] = {}
    for use, key in zip(uses, keys):
        if isinstance(key, BadKey):
            if use.config.required:
                return DeadLetter(kept.parsed.event, ENRICH, key.reason)
            continue
        value = found[use.name].get(key)
        if value is not None:
            looked_up[use.config.into] = value
        elif use.config.required:
            return DeadLetter(kept.parsed.event, ENRICH, f"{use.config.feature} has no value for key {key!r}")
    return EnrichedEvent(kept, looked_up)


def _timestamp(parsed: ParsedEvent) -> int:
    spec = parsed.shape.timestamp
    value = _require(parsed.body, spec.field, "timestamp")
    if spec.unit == "iso8601":
        return _iso_ms(spec.field, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"'{spec.field}' must be epoch {spec.unit}, got {value!r}")
    if spec.unit == "ms":
        if not isinstance(value, int):
            raise _Bad(f"'{spec.field}' must be integer epoch ms, got {value!r}")
        return value
    return round(value * 1000)


def _iso_ms(field: str, value: Any) -> int:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _Bad(f"'{field}' must be an ISO-8601 time with a time zone, got {value!r}")
    return datetime_to_ms(parsed)


def _action_id(parsed: ParsedEvent) -> str:
    path = parsed.shape.action_id
    if path is None:
        return parsed.event.source_id
    value = _require(parsed.body, path, "action_id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(f"'{path}' must be a string or integer id, got {value!r}")
    return str(value)


def _attributes(enriched: EnrichedEvent) -> dict[str, dict[str, Any]]:
    parsed = enriched.kept.parsed
    groups: dict[str, dict[str, Any]] = {}
    for target, path in parsed.shape.attributes.items():
        value = _get(parsed.body, path)
        if value is not _MISSING:
            group, name = target.split(".", 1)
            groups.setdefault(group, {})[name] = value
    for target, value in enriched.looked_up.items():
        group, name = target.split(".", 1)
        groups.setdefault(group, {})[name] = value
    return groups


def standardize(enriched: EnrichedEvent, spec: ActionLogSpec, now_ms: int) -> Action | DeadLetter:
    """Map to the standard action schema and validate it against the action log."""
    parsed = enriched.kept.parsed
    try:
        raw = {
            "action_id": _action_id(parsed),
            "actor": _require(parsed.body, parsed.shape.actor, "actor"),
            "verb": enriched.kept.verb,
            "object": _object(parsed),
            "timestamp": _timestamp(parsed),
            **_attributes(enriched),
        }
    except _Bad as bad:
        return DeadLetter(parsed.event, STANDARDIZE, str(bad))
    result = validate_action(raw, spec, now_ms)
    return DeadLetter(parsed.event, STANDARDIZE, result) if isinstance(result, str) else result
