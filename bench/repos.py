"""The feature repos the benchmarks run on, built in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from feast import FeatureStore

from demo.repo import use_online_store
from demo.synthetic import Scenario, job_embeddings, write_batch_sources
from feast_pinot import push_actions
from feast_pinot.clock import now_ms

__all__ = ["BENCH_MEMBER", "HOUR", "JOBS", "example_repo", "ours", "plain_feast", "stats_columns"]

REPO_SOURCE = Path(__file__).resolve().parents[1] / "feature_repo"
HOUR = 3_600_000
BENCH_MEMBER = 1
JOBS = 1000

_PLAIN_FEATURES = '''
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Int64

member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64)
member_stats = FeatureView(
    name="member_stats", entities=[member], ttl=timedelta(days=3650),
    schema=[Field(name="member_id", dtype=Int64), Field(name="f1", dtype=Float32),
            Field(name="f2", dtype=Float32), Field(name="f3", dtype=Float32),
            Field(name="f4", dtype=Int64), Field(name="f5", dtype=Int64)],
    source=FileSource(name="member_stats_source", path="data/member_stats.parquet",
                      timestamp_field="event_timestamp"),
)
'''

_PLAIN_YAML = """project: plain
provider: local
registry: data/registry.db
online_store:
  type: sqlite
  path: data/online.db
offline_store:
  type: {offline}
entity_key_serialization_version: 3
"""


def _feast(repo: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.run([str(Path(sys.executable).parent / "feast"), *args], cwd=repo, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _apply_and_materialize(repo: Path, materialize: bool = True) -> FeatureStore:
    _feast(repo, "apply")
    if materialize:
        _feast(repo, "materialize-incremental", pd.Timestamp.now(tz="UTC").isoformat())
    return FeatureStore(repo_path=str(repo))


def example_repo(repo: Path, scenario: Scenario, online_store: str | None = None) -> FeatureStore:
    """A copy of ``feature_repo/`` at ``repo`` with the scenario's batch sources, applied and materialized;
    ``online_store``: a ``feature_store.yaml`` block replacing the embedded store."""
    shutil.copytree(REPO_SOURCE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    if online_store is not None:
        use_online_store(repo, online_store)
    write_batch_sources(repo, scenario)
    return _apply_and_materialize(repo)


def ours(root: Path, members: int = 100, actions: int = 200, online_store: str | None = None) -> FeatureStore:
    """The example repo with ``actions`` applies/dismisses of BENCH_MEMBER in the last 96 h."""
    scenario = Scenario(start_ms=now_ms() - 95 * HOUR, hours=95, members=members, jobs=JOBS)
    store = example_repo(root / "ours", scenario, online_store)
    _, emb = job_embeddings(scenario)
    rng = np.random.default_rng(5)
    now = now_ms()
    history = [{
        "action_id": f"bench-{i}", "actor": BENCH_MEMBER, "verb": ("job-apply", "job-dismiss")[i % 2],
        "object": f"job:{job}", "timestamp": now - int(rng.integers(1, 95 * HOUR)),
        "objectAttributes": {"embedding": emb[job].tolist()},
    } for i, job in enumerate(rng.integers(0, scenario.jobs, size=actions))]
    push_actions(store, "member_actions", history)
    return store


def plain_feast(root: Path, members: int = 100, offline: str = "duckdb",
                rows: pd.DataFrame | None = None) -> FeatureStore:
    """Plain Feast: one view of 5 scalar features on its own SQLite online store."""
    repo = root / f"plain_{offline}"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(_PLAIN_YAML.format(offline=offline))
    (repo / "features.py").write_text(_PLAIN_FEATURES)
    if rows is None:
        rng = np.random.default_rng(6)
        rows = pd.DataFrame({
            "member_id": np.arange(1, members + 1, dtype=np.int64),
            "event_timestamp": pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1),
        })
        rows = rows.assign(**stats_columns(rng, len(rows)))
    # Feast's DuckDB reader cannot cast nanosecond timestamps: store microseconds.
    rows = rows.assign(event_timestamp=rows["event_timestamp"].astype("datetime64[us, UTC]"))
    rows.to_parquet(repo / "data" / "member_stats.parquet", index=False)
    return _apply_and_materialize(repo, materialize=len(rows) <= 100_000)


def stats_columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"f1": rng.random(n, dtype=np.float32), "f2": rng.random(n, dtype=np.float32),
            "f3": rng.random(n, dtype=np.float32), "f4": rng.integers(0, 100, n),
            "f5": rng.integers(0, 100, n)}
