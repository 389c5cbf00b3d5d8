"""The pipeline over micro-batches, and the in-process runner (no Kafka needed).

:class:`Pipeline` runs the pure steps over a batch of raw events and does the
one kind of I/O between them: a batched, cached read per attribute lookup.
:class:`Ingester` sends a batch's output to the sinks and counts it; the Kafka
runner and :func:`run_events` (tests, replays from files) both drive it.
"""

from __future__ import annotations

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
from stream_ingest.retry import RetryPolicy, with_retries
from stream_ingest.sinks import ActionSink, DeadLetterSink, OfflineSink
from stream_ingest.stats import Stats
from stream_ingest.steps import BadKey, LookupUse, enrich, keep, lookup_keys, parse, standardize

__all__ = ["BatchResult", "Pipeline", "Ingester", "run_events"]

ONLINE_SINK = "online_sink"


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
    ) -> None:
        self._shapes = config.shapes
        self._spec = spec
        self._lookups = lookups
        self._uses = tuple(
            LookupUse(name, lk, lookups[name].key_is_int) for name, lk in config.ingest_lookups().items()
        )
        self._now_ms = now_ms

    def process(self, events: Sequence[RawEvent]) -> BatchResult:
        kept = [keep(p) if isinstance(p, ParsedEvent) else p for p in (parse(e, self._shapes) for e in events)]
        keys = [lookup_keys(k.parsed, self._uses) if isinstance(k, KeptEvent) else () for k in kept]
        found = self._look_up(keys)
        enriched = [enrich(k, self._uses, ks, found) if isinstance(k, KeptEvent) else k for k, ks in zip(kept, keys)]
        now = self._now_ms()
        done = [standardize(e, self._spec, now) if isinstance(e, EnrichedEvent) else e for e in enriched]
        pairs = [(d, e) for d, e in zip(done, events) if isinstance(d, Action)]
        return BatchResult(
            actions=tuple(action for action, _ in pairs),
            sources=tuple(event for _, event in pairs),
            dead_letters=tuple(d for d in done if isinstance(d, DeadLetter)),
            skipped=tuple(d for d in done if isinstance(d, Skipped)),
        )

    def _look_up(self, keys: list[tuple[Key | BadKey, ...]]) -> dict[str, dict[Key, Any]]:
        """One read per lookup for the whole batch (the cache answers repeats)."""
        found: dict[str, dict[Key, Any]] = {}
        for i, use in enumerate(self._uses):
            wanted = {key for key in (ks[i] for ks in keys if ks) if not isinstance(key, BadKey)}
            found[use.name] = self._lookups[use.name].get_many(wanted)
        return found


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
        result = with_retries(lambda: self._pipeline.process(events), "attribute lookup", self._retry,
                              AttributeLookupError)
        rejected = with_retries(lambda: self._online.write(result.actions), "online write", self._retry, SinkError)
        refused = {i for i, _ in rejected}
        letters = [*result.dead_letters, *(DeadLetter(result.sources[i], ONLINE_SINK, r) for i, r in rejected)]
        self._dead_letters.send(letters)
        stored = [i for i in range(len(result.actions)) if i not in refused]
        self._offline.add([result.actions[i] for i in stored], [result.sources[i] for i in stored])
        self.stats.record(
            events_in=len(events), stored=len(stored), dead_lettered=len(letters), skipped=len(result.skipped),
            produced_ms=[result.sources[i].timestamp_ms for i in stored], stored_at_ms=clock.now_ms(),
        )

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
