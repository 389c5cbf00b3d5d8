"""Training-data build: windowed features over a large log vs Feast's own PIT join.

Each measurement runs in a fresh subprocess (``python -m bench.historical``)
so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureStore

from bench.repos import HOUR, JOBS, ours, plain_feast, stats_columns
from bench.results import Metric
from demo.synthetic import Scenario, job_embeddings
from feast_pinot import with_request_ts
from feast_pinot.client import log_spec
from feast_pinot.offline.parts import resolve_path, write_action_parts

__all__ = ["historical_metrics", "prepare", "prepare_ours"]

WINDOW_FEATURES = [f"member_job_windows:{v}_{k}_{w}" for v in ("job_apply", "job_dismiss")
                   for w in ("1h", "24h", "96h") for k in ("count", "mean_emb", "sim")]
# historical_decayed_seen_s: the same rows with the decayed and seen features of member_job_interests
DECAYED_SEEN_FEATURES = WINDOW_FEATURES + [
    f"member_job_interests:{v}_{k}_{label}" for v in ("job_apply", "job_dismiss")
    for k, labels in (("decayed_count", ("1h", "24h")), ("decayed_mean_emb", ("1h", "24h")),
                      ("decayed_sim", ("1h", "24h")), ("seen_count", ("24h", "96h")), ("seen_age_ms", ("24h", "96h")))
    for label in labels]
# historical_multi_interest_rows_per_s: every interest feature of member_job_interests (k = 5)
INTEREST_FEATURES = [f"member_job_interests:interest_{k}_{i}" for k in ("medoid_emb", "importance")
                     for i in range(1, 6)] + [
    f"member_job_interests:interest_{k}" for k in ("clusters", "max_sim", "weighted_sim")]
FEATURES = {"ours": WINDOW_FEATURES, "decayed_seen": DECAYED_SEEN_FEATURES, "interests": INTEREST_FEATURES}
SPAN = 120 * HOUR


def _write_log(store: FeatureStore, n_actions: int, members: int, start: int) -> None:
    spec = log_spec(store, "member_actions")
    rng = np.random.default_rng(21)
    _, emb = job_embeddings(Scenario(start_ms=0, jobs=JOBS))
    jobs = rng.integers(0, len(emb), n_actions)
    chunk = 250_000
    for lo in range(0, n_actions, chunk):
        hi = min(n_actions, lo + chunk)
        part = pa.table({
            "member_id": rng.integers(1, members + 1, hi - lo),
            "action_id": [f"h{i}" for i in range(lo, hi)],
            "verb": rng.choice(np.array(spec.verbs), hi - lo),
            "object": [f"job:{j}" for j in jobs[lo:hi]],
            "attributes": ["{}"] * (hi - lo),
            "event_timestamp": pa.array(start + rng.integers(0, SPAN, hi - lo), pa.timestamp("ms", tz="UTC")),
            "embedding": pa.FixedSizeListArray.from_arrays(emb[jobs[lo:hi]].ravel(), 64).cast(pa.list_(pa.float32())),
        })
        write_action_parts(resolve_path(store.repo_path, spec.path), part, spec)


def prepare_ours(root: Path, entity_rows: int, n_actions: int, members: int) -> dict[str, Path]:
    """Our repo with ``n_actions`` in its log, and ``entity_rows`` entity rows, written under ``root``."""
    store = ours(root, members=members, actions=0)
    start = int(pd.Timestamp.now(tz="UTC").value // 1_000_000) - SPAN
    _write_log(store, n_actions, members, start)
    rng = np.random.default_rng(22)
    entities = pd.DataFrame({
        "member_id": rng.integers(1, members + 1, entity_rows),
        "job_id": rng.integers(0, JOBS, entity_rows),
        "event_timestamp": pd.to_datetime(start + rng.integers(HOUR, SPAN, entity_rows), unit="ms", utc=True),
    })
    entities_path = root / "entities.parquet"
    with_request_ts(entities).to_parquet(entities_path, index=False)
    (root / "start_ms").write_text(str(start))
    return {"ours": Path(store.repo_path), "entities": entities_path}


def prepare(root: Path, entity_rows: int, n_actions: int, members: int) -> dict[str, Path]:
    """Both repos and the entity frame, written under ``root``."""
    paths = prepare_ours(root, entity_rows, n_actions, members)
    start = int((root / "start_ms").read_text())
    rng = np.random.default_rng(23)
    plain_rows = pd.DataFrame({
        "member_id": rng.integers(1, members + 1, n_actions),
        "event_timestamp": pd.to_datetime(start + rng.integers(0, SPAN, n_actions), unit="ms", utc=True),
    })
    plain = plain_feast(root, offline="duckdb", rows=plain_rows.assign(**stats_columns(rng, n_actions)))
    return {**paths, "plain": Path(plain.repo_path)}


def _run(kind: str, repo: Path, entities: Path) -> dict[str, float]:
    # cwd=repo: Feast's own DuckDB store resolves relative paths against the cwd.
    out = subprocess.run([sys.executable, "-m", "bench.historical", kind, str(repo), str(entities)],
                         capture_output=True, text=True, cwd=repo, env=_env())
    if out.returncode != 0:
        raise RuntimeError(f"historical benchmark '{kind}' failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def historical_metrics(paths: dict[str, Path], repeats: int) -> list[Metric]:
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in (*FEATURES, "plain")}
    for _ in range(repeats):  # interleaved
        for kind, found in runs.items():
            found.append(_run(kind, paths["plain" if kind == "plain" else "ours"], paths["entities"]))

    def median(kind: str, key: str = "seconds") -> float:
        return float(np.median([run[key] for run in runs[kind]]))

    base, note = median("plain"), f"median of {repeats}; baseline: Feast DuckDB PIT join, same rows"

    def cpu(kind: str) -> str:  # on a loaded machine the CPU ratio is the steadier one
        return f"; CPU {median(kind, 'cpu_s'):.2f} s against {median('plain', 'cpu_s'):.2f} s"

    return [
        Metric("historical_s", median("ours"), "s", base, note=note + cpu("ours")),
        Metric("historical_decayed_seen_s", median("decayed_seen"), "s", base,
               note=note + "; + decayed and seen features (target: within 2x)" + cpu("decayed_seen")),
        Metric("historical_multi_interest_rows_per_s", median("interests", "rows_per_s"), "rows/s",
               note=f"median of {repeats}; member_job_interests' interest features (target: >= 2,000)"),
        Metric("peak_rss_mb", max(run["rss_mb"] for kind in FEATURES for run in runs[kind]), "MB",
               note="historical benchmark processes"),
    ]


def _measure(kind: str, repo: Path, entities_path: Path) -> dict[str, float]:
    warnings.filterwarnings("ignore")
    store = FeatureStore(repo_path=str(repo))
    entities = pd.read_parquet(entities_path)
    if kind in FEATURES:
        features = FEATURES[kind]
    else:
        entities = entities[["member_id", "event_timestamp"]]
        features = [f"member_stats:f{i}" for i in range(1, 6)]
    started, cpu_started = time.perf_counter(), time.process_time()
    frame = store.get_historical_features(entity_df=entities, features=features).to_df()
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    if len(frame) != len(entities):
        raise RuntimeError(f"{kind}: {len(frame)} rows out for {len(entities)} in")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # cpu_s: the build's CPU time (all threads): on a loaded machine steadier than the wall
    return {"seconds": seconds, "cpu_s": cpu_s, "rss_mb": rss_mb, "rows": len(frame),
            "rows_per_s": len(frame) / seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=[*FEATURES, "plain"])
    parser.add_argument("repo", type=Path)
    parser.add_argument("entities", type=Path)
    args = parser.parse_args()
    print(json.dumps(_measure(args.kind, args.repo, args.entities)))
