"""``python -m bench --quick`` runs and reports every metric (no timing assertions)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.pinot import PinotEndpoints

ROOT = Path(__file__).resolve().parents[2]
METRICS = {
    "freshness_p50_ms", "freshness_p99_ms", "online_p50_ms", "online_p99_ms", "http_p50_ms", "http_p99_ms",
    "ingest_events_per_s", "historical_s", "historical_decayed_seen_s", "historical_multi_interest_rows_per_s",
    "peak_rss_mb",
    "pinot_history_p50_ms", "pinot_history_p99_ms", "pinot_online_p50_ms", "pinot_online_p99_ms",
    "pinot_freshness_p50_ms", "pinot_freshness_p99_ms",
    *(f"pinot_rank_{n}_p{q}_ms" for n in (1, 10, 100) for q in (50, 99)),
    "online_rank_1_p50_ms", "online_rank_1_p99_ms", "online_rank_10_p50_ms", "online_rank_10_p99_ms",
    "online_rank_100_p50_ms", "online_rank_100_p99_ms", "http_rank_100_p99_ms",
    "online_multi_interest_p99_ms", "online_rank_100_multi_interest_p99_ms",
    "historical_spark_local_s",  # the standalone figures and the scale curve: full runs only
}


def test_quick_bench_reports_every_metric(tmp_path: Path, pinot_endpoints: PinotEndpoints) -> None:
    out = tmp_path / "results.json"
    # the session's Pinot and Kafka: the bench would otherwise start a second cluster next to them
    env = {**os.environ, "PINOT_CONTROLLER_URL": pinot_endpoints.controller_url,
           "PINOT_BROKER_URL": pinot_endpoints.broker_url, "KAFKA_BOOTSTRAP_SERVERS": pinot_endpoints.kafka_bootstrap}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out), "--plots", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    body = json.loads(out.read_text())
    run = body["run"]
    assert run["command"] == f"python -m bench --quick --out {out} --plots {tmp_path}"
    assert run["cpus"] == os.cpu_count()
    assert run["started"] < run["finished"]  # ISO 8601 UTC, one format: the string order is the time order
    assert 0 <= run["load_average_min"] <= run["load_average_max"]
    results = body["metrics"]
    assert set(results) == METRICS
    for name, record in results.items():
        assert set(record) == {"value", "unit", "baseline", "ratio"}, name
        assert math.isfinite(record["value"]), name
        if record["baseline"] is not None:
            assert math.isfinite(record["ratio"]), name
    plots = sorted(tmp_path.glob("*.png"))
    assert [p.name for p in plots] == ["freshness.png", "online_latency.png", "rank_latency.png"]
    # the figures are on disk before the first plot is drawn: a plot that fails loses none of them
    assert out.stat().st_mtime_ns <= min(p.stat().st_mtime_ns for p in plots)


def test_an_output_folder_that_cannot_be_made_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--plots", str(blocker / "plots")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"cannot write to {blocker / 'plots'}" in done.stderr
    assert "[bench" not in done.stdout  # nothing was measured

