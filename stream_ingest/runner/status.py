"""The status line every ``status.interval_s``, and the consumer lag it shows."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from confluent_kafka import Consumer, TopicPartition

from stream_ingest.marks import Partition
from stream_ingest.stats import Stats

__all__ = ["StatusLine", "lag"]

log = logging.getLogger("stream_ingest")


class StatusLine:
    """Logs the counters once per interval and starts the next interval."""

    def __init__(self, stats: Stats, interval_s: float) -> None:
        self._stats = stats
        self._interval_s = interval_s
        self._last = time.monotonic()

    def maybe_log(self, consumer: Consumer, assigned: Collection[Partition]) -> None:
        if time.monotonic() - self._last < self._interval_s:
            return
        log.info("%s", self._stats.snapshot(lag(consumer, assigned)).line())
        self._stats.new_interval()
        self._last = time.monotonic()


def lag(consumer: Consumer, assigned: Collection[Partition]) -> int | None:
    """Messages behind the end of the assigned partitions (as of the last fetch)."""
    positions = consumer.position([TopicPartition(t, p) for t, p in assigned])
    known = []
    for tp in positions:
        # cached=True: the high watermark of the last fetch response. The
        # broker's ListOffsets answer is not used: Tansu 0.6 miscounts it.
        high = consumer.get_watermark_offsets(tp, cached=True)[1]
        if tp.offset >= 0 and high >= 0:
            known.append(max(0, high - tp.offset))
    return sum(known) if known or not positions else None
