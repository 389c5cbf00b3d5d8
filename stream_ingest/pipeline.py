"""The pipeline over micro-batches, and the in-process runner (no Kafka needed).

:class:`Pipeline` runs the pure steps over a batch of raw events and does the
one kind of I/O between them: a batched, cached read per attribute lookup.
:class:`Ingester` sends a batch's output to the sinks and counts it; the Kafka
runner and :func:`run_events` (tests, replays from files) both drive it.

Nothing an event holds can stop a batch: what a step raises for an event
becomes that event's dead letter (the step, the exception), and a lookup or an
online write that fails on what it was given is narrowed down to the keys or
actions that cause it (:func:`~stream_ingest.retry.narrow`). Only I/O is
retried, and only on transient errors (:mod:`stream_ingest.retry`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from feast_pinot import clock
from feast_pinot.actions import Action
from feast_pinot.specs import ActionLogSpec
from stream_ingest.config import IngestConfig
from stream_ingest.errors import AttributeLookupError, SinkError
from stream_ingest.lookups import Key, Lookup
from stream_ingest.records import DeadLetter, EnrichedEvent, KeptEvent, ParsedEvent, RawEvent, Skipped
from stream_ingest.retry import Rejected, RetryPolicy, describe, narrow, with_retries
from stream_ingest.sinks import ActionSink, DeadLetterSink, OfflineSink
from stream_ingest.stats import Stats
from stream_ingest.steps import (
    ENRICH,
    KEEP,
    PARSE,
    STANDARDIZE,
    BadKey,
    LookupUse,
    enrich,
    keep,
    lookup_keys,
    parse,
    standardize,
)

__all__ = ["BatchResult", "Ingester", "Pipeline", "run_events"]

log = logging.getLogger("stream_ingest")
ONLINE_SINK = "online_sink"
Keys = tuple[Key | BadKey, ...]
Front = tuple[KeptEvent, Keys] | DeadLetter | Skipped  # an event up to its lookups


@dataclass(frozen=True, slots=True)
class BatchResult:
    actions: tuple[Action, ...]
    sources: tuple[RawEvent, ...]  # the raw event of each action, in the same order
    dead_letters: tuple[DeadLetter, ...]
    skipped: tuple[Skipped, ...]


class Pipeline:
    """parse -> keep -> (batched lookups) -> enrich -> standardize, over one batch."""

    def __init__(
        self,
        config: IngestConfig,
        spec: ActionLogSpec,
        lookups: Mapping[str, Lookup],
        now_ms: Callable[[], int] = clock.now_ms,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._shapes = config.shapes
        self._spec = spec
        self._lookups = lookups
        self._uses = tuple(
            LookupUse(name, lk, lookups[name].key_is_int) for name, lk in config.ingest_lookups().items()
        )
        self._now_ms = now_ms
        self._retry = retry or RetryPolicy.from_config(config.retry)
        self._reported: set[tuple[str, type[BaseException]]] = set()  # logged with a traceback once

    def process(self, events: Sequence[RawEvent]) -> BatchResult:
        fronts = [self._front(e) for e in events]
        found, failed = self._look_up([f[1] for f in fronts if isinstance(f, tuple)])
        now = self._now_ms()
        done = [self._back(*f, found, failed, now) if isinstance(f, tuple) else f for f in fronts]
        pairs = [(d, e) for d, e in zip(done, events) if isinstance(d, Action)]
        return BatchResult(
            actions=tuple(action for action, _ in pairs),
            sources=tuple(event for _, event in pairs),
            dead_letters=tuple(d for d in done if isinstance(d, DeadLetter)),
            skipped=tuple(d for d in done if isinstance(d, Skipped)),
        )

    def _front(self, event: RawEvent) -> Front:
        step = PARSE
        try:
            parsed = parse(event, self._shapes)
            if not isinstance(parsed, ParsedEvent):
                return parsed
            step = KEEP
            kept = keep(parsed)
            if not isinstance(kept, KeptEvent):
                return kept
            step = ENRICH
            return kept, lookup_keys(parsed, self._uses)
        except Exception as exc:
            return self._failed(step, event, exc)

    def _back(
        self, kept: KeptEvent, keys: Keys, found: Mapping[str, Mapping[Key, Any]],
        failed: Mapping[str, Mapping[Key, str]], now: int,
    ) -> Action | DeadLetter:
        step = ENRICH
        try:
            if failed:  # a key whose read failed is as good as none
                keys = tuple(_unless_failed(k, failed.get(u.name, {})) for u, k in zip(self._uses, keys))
            enriched = enrich(kept, self._uses, keys, found)
            if not isinstance(enriched, EnrichedEvent):
                return enriched
            step = STANDARDIZE
            return standardize(enriched, self._spec, now)
        except Exception as exc:
            return self._failed(step, kept.parsed.event, exc)

    def _failed(self, step: str, event: RawEvent, exc: Exception) -> DeadLetter:
        kind = (step, type(exc))
        if kind not in self._reported:  # a bug shows its traceback once, not once per event
            self._reported.add(kind)
            log.warning("step %s raised %s on %s; dead-lettered (later ones of this kind are only counted)",
                        step, type(exc).__name__, event.source_id, exc_info=exc)
        return DeadLetter(event, step, describe(exc))

    def _look_up(self, keys: list[Keys]) -> tuple[dict[str, dict[Key, Any]], dict[str, dict[Key, str]]]:
        """One read per lookup for the whole batch (the cache answers repeats); the
        values found, and the keys whose read failed with the reason."""
        found: dict[str, dict[Key, Any]] = {}
        failed: dict[str, dict[Key, str]] = {}
        for i, use in enumerate(self._uses):
            wanted = list({key for key in (ks[i] for ks in keys) if not isinstance(key, BadKey)})
            found[use.name], refused = self._read(use, wanted)
            if refused:
                failed[use.name] = {wanted[j]: f"lookups.{use.name}: reading key {wanted[j]!r} failed: {reason}"
                                    for j, reason in refused}
        return found, failed

    def _read(self, use: LookupUse, wanted: list[Key]) -> tuple[dict[Key, Any], Rejected]:
        lookup = self._lookups[use.name]
        values: dict[Key, Any] = {}

        def read(part: Sequence[Key]) -> Rejected:
            values.update(with_retries(lambda: lookup.get_many(part), f"attribute lookup {use.name}",
                                       self._retry, AttributeLookupError))
            return []

        return values, narrow(wanted, read)


def _unless_failed(key: Key | BadKey, failed: Mapping[Key, str]) -> Key | BadKey:
    return BadKey(failed[key]) if not isinstance(key, BadKey) and key in failed else key


class Ingester:
    """Runs a batch through the pipeline and into the sinks, and counts it."""

    def __init__(
        self,
        pipeline: Pipeline,
        online: ActionSink,
        offline: OfflineSink,
        dead_letters: DeadLetterSink,
        retry: RetryPolicy,
        stats: Stats | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._online = online
        self._offline = offline
        self._dead_letters = dead_letters
        self._retry = retry
        self.stats = stats or Stats()

    def handle(self, events: Sequence[RawEvent]) -> None:
        """Process a batch: actions reach the online store before this returns."""
        result = self._pipeline.process(events)
        rejected = narrow(result.actions, self._write_online)
        refused = {i for i, _ in rejected}
        letters = [*result.dead_letters, *(DeadLetter(result.sources[i], ONLINE_SINK, r) for i, r in rejected)]
        self._dead_letters.send(letters)
        stored = [i for i in range(len(result.actions)) if i not in refused]
        self._offline.add([result.actions[i] for i in stored], [result.sources[i] for i in stored])
        self._offline.passed(events)
        self.stats.record(
            events_in=len(events), stored=len(stored), dead_lettered=len(letters), skipped=len(result.skipped),
            produced_ms=[result.sources[i].timestamp_ms for i in stored], stored_at_ms=clock.now_ms(),
        )

    def _write_online(self, actions: Sequence[Action]) -> Rejected:
        return with_retries(lambda: self._online.write(actions), "online write", self._retry, SinkError)

    def checkpoint(self) -> None:
        """Make everything handled so far durable: offline parts and dead letters."""
        with_retries(self._offline.flush, "offline write", self._retry, SinkError)
        with_retries(self._dead_letters.flush, "dead-letter delivery", self._retry, SinkError)

    @property
    def offline(self) -> OfflineSink:
        return self._offline


def run_events(ingester: Ingester, events: Iterable[RawEvent], batch_size: int) -> None:
    """The in-process runner: micro-batches of ``events``, then one checkpoint."""
    it = iter(events)
    while batch := list(islice(it, batch_size)):
        ingester.handle(batch)
    ingester.checkpoint()
