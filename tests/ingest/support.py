"""Test support: raw events of the example's two shapes, test configs, the offline log.

The jobs example's ``feature_repo/ingest.yaml`` is the base config; tests
point it at their own topics, group, broker and repo copy.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.local import FAST_GROUP_SETTINGS

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "feature_repo" / "ingest.yaml"
TYPE_OF_VERB = {"job-view": "view", "job-save": "save", "job-dismiss": "dismiss"}


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def application(application_id: str, member: int, job: int, ts_ms: int, device: str = "ios") -> bytes:
    return json.dumps({
        "event": "job_application", "application_id": application_id, "member_id": member,
        "job_id": job, "applied_at": ts_ms, "client": {"device": device},
    }).encode()


def interaction(member: int, job: int, kind: str, ts_ms: int, surface: str = "jobs-home") -> bytes:
    return json.dumps({
        "event": "job_interaction", "member": {"id": member}, "job": {"id": job},
        "type": kind, "occurred_at": iso(ts_ms), "surface": surface,
    }).encode()


def raw_of(action: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """A standard action of demo.synthetic as the raw event its service would emit:
    ``("applications" | "interactions", key, value)``."""
    member, job = action["actor"], int(action["object"].removeprefix("job:"))
    key = str(member).encode()
    if action["verb"] == "job-apply":
        return "applications", key, application(action["action_id"], member, job, action["timestamp"])
    return "interactions", key, interaction(member, job, TYPE_OF_VERB[action["verb"]], action["timestamp"])


def example_config_dict() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_CONFIG.read_text())


def ingest_config(
    repo: Path, bootstrap: str, applications: str, interactions: str, dead_letters: str, group: str,
    **sections: dict[str, Any],
) -> IngestConfig:
    """The example config on the given topics, group and repo; ``sections`` update top-level keys."""
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
    return parse_config(raw, "test config")


def write_config(config: IngestConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def read_offline_log(root: Path) -> pa.Table:
    """Every row of every Parquet part under ``root`` (duplicates kept: tests count them)."""
    parts = sorted(root.rglob("*.parquet"))
    if not parts:
        return pa.table({"action_id": pa.array([], pa.string())})
    return pa.concat_tables([pq.read_table(p) for p in parts])
