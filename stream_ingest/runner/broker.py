"""Whether the Kafka broker answers, and when to give up on it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException

from stream_ingest.errors import BrokerUnavailableError

__all__ = ["BrokerWatch"]

log = logging.getLogger("stream_ingest")
_BROKER_DOWN = (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT)
_REFUSED = (KafkaError._AUTHENTICATION, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)
_PROBE_EVERY_S = 1.0


class BrokerWatch:
    """Learns of an outage from librdkafka's errors; while it lasts, probes once a second,
    and raises :class:`BrokerUnavailableError` once it is older than ``timeout_s``."""

    def __init__(self, timeout_s: float, refusal: str = "Kafka refused the ingester") -> None:
        self._timeout_s = timeout_s
        self._refusal = refusal  # names the broker and the user when a login or an ACL is refused
        self._down_since: float | None = None
        self._last_probe = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (also fed partition errors from consume)."""
        if err.fatal():
            raise BrokerUnavailableError(f"fatal Kafka error: {err}")
        if err.code() in _REFUSED:  # no retry can help: the credentials or the ACLs must change
            raise BrokerUnavailableError(f"{self._refusal}: {err.str()} (check kafka.properties and the ACLs)")
        if err.code() in _BROKER_DOWN:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("broker unreachable (%s); reconnecting, nothing is committed meanwhile", err.str())
            return
        log.warning("Kafka error: %s", err.str())

    def check(self, probe: Callable[[], object]) -> None:
        """While the broker is away, ``probe()`` once a second (it raises KafkaException while no
        broker answers); give up after ``timeout_s``."""
        if self._down_since is None or time.monotonic() - self._last_probe < _PROBE_EVERY_S:
            return
        self._last_probe = time.monotonic()
        try:
            probe()
        except KafkaException:
            down_for = time.monotonic() - self._down_since
            if down_for > self._timeout_s:
                raise BrokerUnavailableError(f"no broker reachable for {down_for:.0f} s") from None
            return
        self.back()

    def back(self) -> None:
        """The broker answered (a probe, or messages arrived)."""
        if self._down_since is not None:
            log.warning("broker reachable again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
