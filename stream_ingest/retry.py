"""Bounded retries with exponential backoff, logged one clear line per failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from stream_ingest.config import RetryConfig
from stream_ingest.errors import IngestError

__all__ = ["RetryPolicy", "with_retries"]

log = logging.getLogger("stream_ingest")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int
    initial_backoff_s: float
    max_backoff_s: float

    @classmethod
    def from_config(cls, config: RetryConfig) -> "RetryPolicy":
        return cls(config.attempts, config.initial_backoff_ms / 1000, config.max_backoff_ms / 1000)


def with_retries(
    fn: Callable[[], T],
    what: str,
    policy: RetryPolicy,
    give_up: type[IngestError],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``fn()``; on any exception wait and try again, at most ``policy.attempts`` times.

    Every failure is retried: the callers are I/O (stores, Kafka) whose errors
    are transient more often than not, and the last one is chained into
    ``give_up`` so nothing is hidden.
    """
    delay = policy.initial_backoff_s
    for attempt in range(1, policy.attempts):
        try:
            return fn()
        except Exception as exc:
            log.warning("%s failed (attempt %d/%d): %s; retrying in %.1f s", what, attempt, policy.attempts, exc, delay)
            sleep(delay)
            delay = min(delay * 2, policy.max_backoff_s)
    try:
        return fn()
    except Exception as exc:
        raise give_up(f"{what} failed {policy.attempts} time(s); last error: {exc}") from exc
