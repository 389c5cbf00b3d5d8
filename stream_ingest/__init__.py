"""stream_ingest: raw Kafka events -> standardized, enriched actions in a Feast action log.

Run it with ``python -m stream_ingest --config ingest.yaml``; see docs/ingest.md.
"""

from stream_ingest.config import IngestConfig, load_config
from stream_ingest.errors import (
    AttributeLookupError,
    BrokerUnavailableError,
    ConfigError,
    IngestError,
    SinkError,
)
from stream_ingest.pipeline import Ingester, Pipeline, run_events
from stream_ingest.records import DeadLetter, RawEvent, Skipped
from stream_ingest.runner import KafkaRunner, build_runner
from stream_ingest.stats import Stats, StatusSnapshot

__all__ = [
    "AttributeLookupError",
    "BrokerUnavailableError",
    "ConfigError",
    "DeadLetter",
    "IngestConfig",
    "IngestError",
    "Ingester",
    "KafkaRunner",
    "Pipeline",
    "RawEvent",
    "SinkError",
    "Skipped",
    "Stats",
    "StatusSnapshot",
    "build_runner",
    "load_config",
    "run_events",
]
