"""``python -m bench --quick`` runs and reports every metric (no timing assertions)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS = {
    "freshness_p50_ms", "freshness_p99_ms", "online_p50_ms", "online_p99_ms", "http_p50_ms", "http_p99_ms",
    "ingest_events_per_s", "historical_s", "pinot_standin_history_p50_ms", "peak_rss_mb",
    "online_rank_1_p50_ms", "online_rank_1_p99_ms", "online_rank_10_p50_ms", "online_rank_10_p99_ms",
    "online_rank_100_p50_ms", "online_rank_100_p99_ms", "http_rank_100_p99_ms",
}


def test_quick_bench_reports_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out), "--plots", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == METRICS
    for name, record in results.items():
        assert set(record) == {"value", "unit", "baseline", "ratio"}, name
        assert math.isfinite(record["value"]), name
        if record["baseline"] is not None:
            assert math.isfinite(record["ratio"]), name
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["freshness.png", "online_latency.png", "rank_latency.png"]
