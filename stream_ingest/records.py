"""Frozen records that flow through the pipeline steps.

``RawEvent`` is what Kafka delivered. Each step turns a record into the next
record type, a :class:`Skipped` (deliberately not of interest) or a
:class:`DeadLetter` (bad input, with the failing step and the reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feast_pinot.actions import Action
from stream_ingest.config import ShapeConfig

__all__ = ["RawEvent", "ParsedEvent", "KeptEvent", "EnrichedEvent", "Skipped", "DeadLetter", "StepResult"]


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One Kafka message, as delivered."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int  # the message's Kafka timestamp: when it was produced

    @property
    def source_id(self) -> str:
        """Where it came from; the default ``action_id``, stable across replays."""
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    event: RawEvent
    shape_name: str
    shape: ShapeConfig
    body: Mapping[str, Any]  # the decoded JSON object


@dataclass(frozen=True, slots=True)
class KeptEvent:
    parsed: ParsedEvent
    verb: str


@dataclass(frozen=True, slots=True)
class EnrichedEvent:
    kept: KeptEvent
    # "objectAttributes.embedding" -> value, from the attribute lookups
    looked_up: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    """An event deliberately left out (e.g. an interaction type not of interest)."""

    event: RawEvent
    step: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that could not become an action: original bytes, origin, step and reason."""

    event: RawEvent
    step: str
    reason: str


StepResult = ParsedEvent | KeptEvent | EnrichedEvent | Action | Skipped | DeadLetter
