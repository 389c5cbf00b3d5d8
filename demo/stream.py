"""Raw events through Kafka and the ingester: the example ingest config on
chosen topics, and the time from producing a raw event to seeing it served.

Freshness here is end to end: the clock starts before the raw event is
produced to its source topic and stops when ``get_online_features`` of the
windowed view counts it (consume, map, enrich, online write and the read).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer
from feast import FeatureStore

from feast_pinot.clock import now_ms
from local_cluster.topics import FAST_GROUP_SETTINGS
from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.errors import IngestError

__all__ = [
    "EXAMPLE_CONFIG",
    "apply_count_1h",
    "example_config_dict",
    "ingest_config",
    "produced_to_visible",
    "write_config",
]

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "feature_repo" / "ingest.yaml"
_COUNT_1H = "member_job_windows:job_apply_count_1h"


def example_config_dict() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_CONFIG.read_text())


def ingest_config(
    repo: Path, bootstrap: str, applications: str, interactions: str, dead_letters: str, group: str,
    **sections: dict[str, Any],
) -> IngestConfig:
    """The example config on the given topics, group and repo; ``sections`` update top-level keys.

    Checkpoints every 200 ms and a status line every second, so that short
    runs (tests, benchmarks) see their offline parts and counters soon.
    """
    raw = example_config_dict()
    raw["kafka"].update(bootstrap_servers=bootstrap, group_id=group, topics=[applications, interactions],
                        session_timeout_ms=FAST_GROUP_SETTINGS["session.timeout.ms"],
                        heartbeat_interval_ms=FAST_GROUP_SETTINGS["heartbeat.interval.ms"])
    raw["shapes"]["job_application"]["topics"] = [applications]
    raw["shapes"]["job_interaction"]["topics"] = [interactions]
    raw["feast"]["repo_path"] = str(repo)
    raw["dead_letter"]["topic"] = dead_letters
    raw["offline"] = {"flush_interval_ms": 200}
    raw["status"] = {"interval_s": 1}
    for key, values in sections.items():
        raw.setdefault(key, {}).update(values)
    return parse_config(raw, "generated config")


def write_config(config: IngestConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def apply_count_1h(store: FeatureStore, member: int) -> int:
    """The member's applies of the last hour, as ``get_online_features`` serves them now."""
    row = {"member_id": member, "job_id": 0, "request_ts": now_ms()}
    got = store.get_online_features(features=[_COUNT_1H], entity_rows=[row]).to_dict()
    return int(got["job_apply_count_1h"][0] or 0)


def produced_to_visible(
    store: FeatureStore, producer: Producer, topic: str, member: int, application: bytes, timeout_s: float = 30.0,
) -> float:
    """Produce one raw application of ``member`` and poll until its 1 h apply count
    grows; the milliseconds that took. The ingester must be consuming ``topic``."""
    expected = apply_count_1h(store, member) + 1
    started = time.perf_counter()
    producer.produce(topic, key=str(member).encode(), value=application)
    producer.flush(timeout_s)
    while apply_count_1h(store, member) < expected:
        if time.perf_counter() - started > timeout_s:
            raise IngestError(f"member {member}'s application was not visible after {timeout_s} s")
    return (time.perf_counter() - started) * 1000
