"""Frozen records that flow through the pipeline steps.

``RawEvent`` is what Kafka delivered. Each step turns a record into the next
record type, a :class:`Skipped` (deliberately not of interest) or a
:class:`DeadLetter` (bad input, with the failing step and the reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stream_ingest.config import ShapeConfig

__all__ = ["DeadLetter", "EnrichedEvent", "KeptEvent", "ParsedEvent", "RawEvent", "Skipped"]


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One Kafka message, as delivered."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int  # the message's Kafka timestamp: when it was produced
    # The partition's incarnation: 0 until its topic is recreated (or its offsets
    # go back), then 1, 2, ... (kept with the offline mark, see OfflineSink).
    generation: int = 0

    @property
    def source_id(self) -> str:
        """Where it came from; the default ``action_id`` and the dead letter's id, stable
        across replays. A later incarnation's offsets restart at 0: its ids carry ``@g<n>``."""
        origin = f"{self.topic}/{self.partition}/{self.offset}"
        return f"{origin}@g{self.generation}" if self.generation else origin


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
