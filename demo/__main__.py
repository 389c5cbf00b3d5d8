"""The end-to-end demo on the embedded default store.

    python -m demo [--workdir demo-output] [--members 200]

1. copies ``feature_repo/`` to the work directory and writes its batch sources;
2. ``feast apply`` and ``feast materialize-incremental`` with the real CLI;
3. backfills 96 hours of synthetic member actions (online and offline);
4. pushes live actions one at a time and measures how long each takes to
   become visible in ``get_online_features`` of the windowed features;
5. builds a training set with ``get_historical_features`` and checks that it
   equals what the online store served for the same members and instants.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureStore

from demo.synthetic import Scenario, actions, job_embeddings, write_batch_sources
from feast_pinot import push_actions, with_request_ts
from feast_pinot.clock import now_ms

REPO_SOURCE = Path(__file__).resolve().parents[1] / "feature_repo"
HOUR = 3_600_000
SERVICE = "job_ranking_v1"


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def prepare_repo(workdir: Path, scenario: Scenario) -> Path:
    repo = workdir / "feature_repo"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(REPO_SOURCE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    write_batch_sources(repo, scenario)
    feast = str(Path(sys.executable).parent / "feast")
    for args in (["apply"], ["materialize-incremental", pd.Timestamp.now(tz="UTC").isoformat()]):
        say(f"feast {' '.join(args)}")
        quiet = {**os.environ, "PYTHONWARNINGS": "ignore"}
        subprocess.run([feast, *args], cwd=repo, check=True, stdout=subprocess.DEVNULL, env=quiet)
    return repo


def backfill(store: FeatureStore, scenario: Scenario) -> int:
    history = actions(scenario)
    light = [{k: v for k, v in a.items() if k != "objectAttributes"} for a in history]
    started = time.perf_counter()
    for start in range(0, len(history), 2000):
        push_actions(store, "member_actions", history[start:start + 2000])
        push_actions(store, "member_actions_light", light[start:start + 2000])
    say(f"backfilled {len(history)} actions into two logs in {time.perf_counter() - started:.1f} s")
    return len(history)


def _count(store: FeatureStore, member: int) -> int:
    row = {"member_id": member, "job_id": 0, "request_ts": now_ms()}
    got = store.get_online_features(features=["member_job_windows:job_apply_count_1h"], entity_rows=[row])
    return got.to_dict()["job_apply_count_1h"][0]


def live_latency(store: FeatureStore, scenario: Scenario, n: int = 20) -> list[float]:
    """Push one apply at a time; time until the windowed count shows it."""
    _, emb = job_embeddings(scenario)
    latencies = []
    for i in range(n):
        member = 1 + i % scenario.members
        before = _count(store, member)
        produced = time.perf_counter()
        push_actions(store, "member_actions", [{
            "action_id": f"live-{now_ms()}-{i}", "actor": member, "verb": "job-apply",
            "object": f"job:{i}", "timestamp": now_ms(), "objectAttributes": {"embedding": emb[i].tolist()},
        }])
        while _count(store, member) != before + 1:
            pass
        latencies.append((time.perf_counter() - produced) * 1000)
    return latencies


def show_member(store: FeatureStore, scenario: Scenario) -> None:
    ts = now_ms()
    rows = [{"member_id": 1, "job_id": job, "request_ts": ts} for job in range(3)]
    got = store.get_online_features(features=store.get_feature_service(SERVICE), entity_rows=rows).to_dict()
    say("member 1, three candidate jobs (similarity of each job to the member's recent applies):")
    for i, job in enumerate(range(3)):
        say(f"  job {job}: 1h={got['job_apply_sim_1h'][i]:+.3f}  24h={got['job_apply_sim_24h'][i]:+.3f}  "
            f"96h={got['job_apply_sim_96h'][i]:+.3f}   applies 1h/24h/96h = "
            f"{got['job_apply_count_1h'][i]}/{got['job_apply_count_24h'][i]}/{got['job_apply_count_96h'][i]}")
    say(f"  industry={got['industry'][0]} seniority={got['seniority'][0]}")


def training_parity(store: FeatureStore, scenario: Scenario, workdir: Path) -> float:
    """Serve a sample online, rebuild it offline; return the largest difference."""
    ts = now_ms()
    rows = [{"member_id": m, "job_id": m % scenario.jobs, "request_ts": ts} for m in range(1, scenario.members + 1)]
    service = store.get_feature_service(SERVICE)
    online = store.get_online_features(features=service, entity_rows=rows).to_dict()
    entity_df = pd.DataFrame(rows).drop(columns="request_ts").assign(
        event_timestamp=pd.Timestamp(ts, unit="ms", tz="UTC"))
    started = time.perf_counter()
    offline = store.get_historical_features(entity_df=with_request_ts(entity_df), features=service).to_df()
    say(f"training set: {len(offline)} rows in {time.perf_counter() - started:.2f} s")
    out = workdir / "training_set.parquet"
    offline.to_parquet(out, index=False)
    say(f"wrote {out}")
    worst = 0.0
    for name, values in online.items():
        if name in ("member_id", "job_id", "request_ts") or not isinstance(values[0], (int, float, list)):
            continue
        diff = np.abs(np.asarray(offline[name].tolist(), dtype=float) - np.asarray(values, dtype=float))
        worst = max(worst, float(diff.max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("demo-output"))
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # Feast's experimental-feature notices drown the demo's output
    args.workdir.mkdir(parents=True, exist_ok=True)
    scenario = Scenario(start_ms=now_ms() - 96 * HOUR + 60_000, hours=95.9, members=args.members, jobs=2000)
    repo = prepare_repo(args.workdir.resolve(), scenario)
    store = FeatureStore(repo_path=str(repo))
    backfill(store, scenario)
    latencies = live_latency(store, scenario)
    p50, p99 = np.percentile(latencies, [50, 99])
    say(f"push -> visible in get_online_features: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"over {len(latencies)} live actions")
    show_member(store, scenario)
    worst = training_parity(store, scenario, args.workdir)
    say(f"online vs training data for the same instant: max abs difference {worst:.2e}")
    if worst > 1e-6:
        say("PARITY FAILED")
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
