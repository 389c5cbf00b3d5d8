"""A two-log feature repo built in Python, small enough for one test module each."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float32, Int64

from feast_pinot import ObjectAttribute, action_history, action_log, windowed_action_features

YAML = """project: mini
provider: feast_pinot.provider.ActionLogProvider
registry: data/registry.db
online_store:
  type: feast_pinot.online.embedded.EmbeddedOnlineStore
  path: data/online.db
offline_store:
  type: feast_pinot.offline.ActionLogOfflineStore
entity_key_serialization_version: 3
"""
HOUR = 3_600_000
VERBS = ("a", "b")


def jobs_entities() -> tuple[Entity, Entity, FeatureView]:
    """The member and job entities, and ``job_attributes`` (embeddings from ``data/jobs.parquet``)."""
    member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64)
    job = Entity(name="job", join_keys=["job_id"], value_type=ValueType.INT64)
    job_attributes = FeatureView(
        name="job_attributes", entities=[job], ttl=timedelta(days=3650),
        schema=[Field(name="job_id", dtype=Int64), Field(name="embedding", dtype=Array(Float32))],
        source=FileSource(name="jobs_source", path="data/jobs.parquet", timestamp_field="event_timestamp"),
    )
    return member, job, job_attributes


def make_mini_repo(
    root: Path, jobs: pd.DataFrame, *, max_actions: int = 200, online_store: dict[str, Any] | None = None
) -> FeatureStore:
    """``acts`` stores 2-d embeddings; ``light`` joins them from ``jobs`` (written by pandas as given).

    Both logs keep ``max_actions`` per member. ``acts_rank`` scores the row's
    ``job_id``: similarities and what the member already did to it.
    ``online_store`` replaces the embedded store's block (e.g. PinotOnlineStore).
    """
    (root / "data").mkdir(parents=True)
    config = yaml.safe_load(YAML)
    config["online_store"] = online_store or config["online_store"]
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    jobs.to_parquet(root / "data" / "jobs.parquet", index=False)  # pandas: nanosecond timestamps
    member, job, job_attributes = jobs_entities()
    retention = timedelta(hours=96)
    acts = action_log("acts", member, VERBS, "data/acts", embedding_dim=2, retention=retention, max_actions=max_actions)
    light = action_log("light", member, VERBS, "data/light", retention=retention, max_actions=max_actions)
    acts_hist = action_history("acts_hist", acts)
    light_hist = action_history("light_hist", light, attribute=ObjectAttribute(
        job_attributes, "embedding", dim=2, object_prefix="job:"))
    windows = {"1h": timedelta(hours=1), "96h": timedelta(hours=96)}
    store = FeatureStore(repo_path=str(root))
    store.apply([member, job, job_attributes, acts, light, acts_hist, light_hist,
                 windowed_action_features("acts_win", acts_hist, windows),
                 windowed_action_features("light_win", light_hist, windows),
                 windowed_action_features("acts_rank", acts_hist, windows, candidate=job_attributes[["embedding"]],
                                          seen_windows=windows, object_prefix="job:")])
    newest = pd.Timestamp(jobs["event_timestamp"].max())
    store.materialize(datetime(2000, 1, 1, tzinfo=timezone.utc), newest.to_pydatetime() + timedelta(seconds=1))
    return store


def jobs_frame(embeddings: dict[int, list[float]], at_ms: int) -> pd.DataFrame:
    return pd.DataFrame({
        "job_id": list(embeddings),
        "embedding": [[float(x) for x in v] for v in embeddings.values()],
        "event_timestamp": pd.to_datetime([at_ms] * len(embeddings), unit="ms", utc=True),
    })
