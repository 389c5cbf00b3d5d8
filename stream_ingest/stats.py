"""Counters, rates and event-to-store freshness, for the status line and for code.

Freshness is measured per stored action: the time from the raw event's Kafka
timestamp (when the product service produced it) to the moment the online
write returned, i.e. when ``get_online_features`` can see it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Stats", "StatusSnapshot"]

_MAX_SAMPLES = 200_000  # freshness samples kept per status interval


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Totals since start, plus rates and freshness over the current status interval."""

    events_in: int
    stored: int
    dead_lettered: int
    skipped: int
    in_per_s: float
    out_per_s: float
    lag: int | None
    freshness_p50_ms: float | None
    freshness_p99_ms: float | None
    offsets_went_back: int = 0  # partitions that started a new incarnation (topic recreated)

    def line(self) -> str:
        lag = "?" if self.lag is None else str(self.lag)
        fresh = (
            "n/a" if self.freshness_p50_ms is None
            else f"p50 {self.freshness_p50_ms:.0f} ms p99 {self.freshness_p99_ms:.0f} ms"
        )
        back = f" | offsets went back {self.offsets_went_back}" if self.offsets_went_back else ""
        return (
            f"in {self.in_per_s:.0f}/s out {self.out_per_s:.0f}/s | dead-lettered {self.dead_lettered} "
            f"skipped {self.skipped} | lag {lag} | freshness {fresh} | "
            f"total in {self.events_in} stored {self.stored}{back}"
        )


def _percentile(ordered: Sequence[int], q: float) -> float:
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


class Stats:
    """Thread-safe counters: the runner records, anyone may take a snapshot."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._totals = {"in": 0, "stored": 0, "dead": 0, "skipped": 0, "back": 0}
        self._window_start = clock()
        self._window_base = dict(self._totals)
        self._freshness: deque[int] = deque(maxlen=_MAX_SAMPLES)

    def record(
        self, events_in: int, stored: int, dead_lettered: int, skipped: int,
        produced_ms: Sequence[int], stored_at_ms: int,
    ) -> None:
        with self._lock:
            self._totals["in"] += events_in
            self._totals["stored"] += stored
            self._totals["dead"] += dead_lettered
            self._totals["skipped"] += skipped
            self._freshness.extend(stored_at_ms - ms for ms in produced_ms)

    def record_offsets_back(self) -> None:
        """A partition's offsets went back: it starts a new incarnation."""
        with self._lock:
            self._totals["back"] += 1

    def snapshot(self, lag: int | None = None) -> StatusSnapshot:
        with self._lock:
            elapsed = max(self._clock() - self._window_start, 1e-9)
            totals, base = dict(self._totals), self._window_base
            ordered = sorted(self._freshness)
        return StatusSnapshot(
            events_in=totals["in"],
            stored=totals["stored"],
            dead_lettered=totals["dead"],
            skipped=totals["skipped"],
            in_per_s=(totals["in"] - base["in"]) / elapsed,
            out_per_s=(totals["stored"] - base["stored"]) / elapsed,
            lag=lag,
            freshness_p50_ms=_percentile(ordered, 0.50) if ordered else None,
            freshness_p99_ms=_percentile(ordered, 0.99) if ordered else None,
            offsets_went_back=totals["back"],
        )

    def new_interval(self) -> None:
        """Start the next status interval (rates and freshness restart from here)."""
        with self._lock:
            self._window_start = self._clock()
            self._window_base = dict(self._totals)
            self._freshness.clear()
