"""The exceptions raised by stream_ingest.

    IngestError
    ├── ConfigError            the config file (or the Feast repo it names) cannot work
    ├── AttributeLookupError   an attribute store could not be read
    ├── SinkError              a sink could not write after its retries, or is broken
    └── BrokerUnavailableError the Kafka broker stayed unreachable past the retry budget

Bad *events* are not exceptions: they become dead letters. These errors are
about the ingester's own environment; the process exits non-zero on them
without committing, so a restart replays what was not yet durable.
"""

from __future__ import annotations

__all__ = [
    "AttributeLookupError",
    "BrokerUnavailableError",
    "ConfigError",
    "IngestError",
    "SinkError",
]


class IngestError(Exception):
    """Root of every error stream_ingest raises on purpose."""


class ConfigError(IngestError, ValueError):
    """The config is invalid; the message names the offending key."""


class AttributeLookupError(IngestError):
    """An attribute lookup (e.g. Feast online features) failed."""


class SinkError(IngestError):
    """A sink kept failing after its bounded retries, or failed in a way no retry can mend."""


class BrokerUnavailableError(IngestError):
    """Kafka could not be reached (or a commit kept failing) past the retry budget."""
