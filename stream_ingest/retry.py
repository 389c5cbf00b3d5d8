"""Retries around I/O: declared transient errors only, with exponential backoff, one log line per failure.

Every failure of an I/O call is put in one of three classes (:func:`classify`)
by the types the stores and Kafka declare; the ingester knows no store driver:

* ``TRANSIENT``: may pass on its own. An
  :class:`~feast_pinot.errors.OnlineStoreUnavailableError`, which each backend
  raises for its own transient failures (SQLite: the file locked by another
  writer; Pinot: controller, broker or Kafka unreachable, a query timeout); an
  ``OSError`` (the ingester's own files and sockets); a Kafka error librdkafka
  marks retriable or that passes once the broker is back. Retried.
* ``BROKEN``: the store or broker itself refuses to work (any other online or
  offline store error, such as SQLite's "no such table"; a non-retriable Kafka
  error): not retried; the caller gives up.
* ``DATA``: something in what was written or asked for: a store error that is
  also a ``ValueError`` (:class:`~feast_pinot.errors.OnlineStoreValueError`),
  or anything that is no store's or broker's error (an integer SQLite cannot
  bind, a string UTF-8 cannot encode). Not retried, and raised unchanged so
  the caller can find the offending events.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

from feast_pinot.errors import OfflineStoreError, OnlineStoreError, OnlineStoreUnavailableError
from stream_ingest.config import RetryConfig
from stream_ingest.errors import IngestError

__all__ = ["Failure", "RetryPolicy", "classify", "describe", "narrow", "with_retries"]

log = logging.getLogger("stream_ingest")
T = TypeVar("T")
Rejected = list[tuple[int, str]]  # (index in the batch, reason)

# Kafka errors that librdkafka does not flag retriable but that pass once the broker is back.
_KAFKA_TRANSIENT = frozenset({
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._MSG_TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError._WAIT_COORD,
})
_BROKEN = (OnlineStoreError, OfflineStoreError, KafkaException)
_MAX_REASON = 500


class Failure(enum.Enum):
    TRANSIENT = "transient"
    BROKEN = "broken"
    DATA = "data"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (OnlineStoreUnavailableError, OSError)):
        return True
    if isinstance(exc, KafkaException) and isinstance(exc.args[0] if exc.args else None, KafkaError):
        err: KafkaError = exc.args[0]
        return bool(err.retriable()) or err.code() in _KAFKA_TRANSIENT
    return False


def classify(exc: BaseException) -> Failure:
    """What kind of failure ``exc`` is, judged over its whole cause chain."""
    chain = list(_chain(exc))
    if any(map(_transient, chain)):
        return Failure.TRANSIENT
    for error in chain:  # the outermost store or broker error says whose fault it is
        if isinstance(error, _BROKEN):
            return Failure.DATA if isinstance(error, ValueError) else Failure.BROKEN
    return Failure.DATA


def describe(exc: BaseException) -> str:
    """``Type: message``, cut to a length that fits in a dead letter."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON] + f"... ({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int
    initial_backoff_s: float
    max_backoff_s: float
    sleep: Callable[[float], None] = time.sleep  # how a backoff waits (a test may act in it instead)

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryPolicy:
        return cls(config.attempts, config.initial_backoff_ms / 1000, config.max_backoff_ms / 1000)


def with_retries(fn: Callable[[], T], what: str, policy: RetryPolicy, give_up: type[IngestError]) -> T:
    """``fn()``, tried again after a ``TRANSIENT`` failure, at most ``policy.attempts`` times.

    A ``BROKEN`` failure, or a transient one on the last attempt, raises
    ``give_up`` (the failure chained). A ``DATA`` failure, and an
    :class:`IngestError` from below, are raised unchanged.
    """
    delay = policy.initial_backoff_s
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except IngestError:  # already decided by a layer below
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind is Failure.DATA:
                raise
            if kind is Failure.BROKEN or attempt == policy.attempts:
                raise give_up(f"{what} failed {attempt} time(s); last error: {describe(exc)}") from exc
            log.warning("%s failed (attempt %d/%d): %s; retrying in %.1f s",
                        what, attempt, policy.attempts, describe(exc), delay)
            policy.sleep(delay)
            delay = min(delay * 2, policy.max_backoff_s)
    raise AssertionError("unreachable: policy.attempts >= 1")


def narrow(items: Sequence[T], write: Callable[[Sequence[T]], Rejected]) -> Rejected:
    """``write(items)``; when it raises a ``DATA`` failure, bisect to the items that cause it.

    Returns ``(index, reason)`` of every item refused, by ``write`` itself or
    by failing alone. The other items are written: ``write`` must be
    idempotent (a half that failed may have written part of itself).
    Give-up errors (:class:`IngestError`) pass through.
    """
    if not items:
        return []
    try:
        return write(items)
    except IngestError:
        raise
    except Exception as exc:
        if len(items) == 1:
            return [(0, describe(exc))]
    mid = len(items) // 2
    return narrow(items[:mid], write) + [(i + mid, r) for i, r in narrow(items[mid:], write)]
