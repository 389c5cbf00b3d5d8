"""Ranking latency: one member and N candidate jobs per call, against plain Feast reading N rows."""

from __future__ import annotations

from pathlib import Path

from feast import FeatureStore

from bench.online import PLAIN_FEATURES, http_samples, interleaved
from bench.repos import BENCH_MEMBER, JOBS
from bench.results import Metric, percentile
from feast_pinot.clock import now_ms

__all__ = ["rank_latency", "http_rank_latency", "RANK_SERVICE"]

RANK_SERVICE = "job_candidates_v1"  # 3 batch features, 6 similarities, 6 counts


def _rows(n: int) -> dict[str, list[int]]:
    """Columnar entity rows: the bench member against the first ``n`` jobs, one request time."""
    if n > JOBS:
        raise ValueError(f"at most {JOBS} candidates, got {n}")
    ts = now_ms()
    return {"member_id": [BENCH_MEMBER] * n, "job_id": list(range(n)), "request_ts": [ts] * n}


def rank_latency(ours: FeatureStore, plain: FeatureStore, sizes: list[int], calls: int
                 ) -> tuple[list[Metric], dict[int, dict[str, list[float]]]]:
    """Per N: ours (the ranking service for N candidates), plain Feast (5 scalars for N distinct members)."""
    service = ours.get_feature_service(RANK_SERVICE)
    metrics: list[Metric] = []
    samples: dict[int, dict[str, list[float]]] = {}
    for n in sizes:
        plain_rows = {"member_id": list(range(1, n + 1))}

        def ours_call(n: int = n) -> None:
            ours.get_online_features(features=service, entity_rows=_rows(n)).to_dict()

        def plain_call(rows: dict = plain_rows) -> None:
            plain.get_online_features(features=PLAIN_FEATURES, entity_rows=rows).to_dict()

        mine, base = interleaved(ours_call, plain_call, calls, warmup=max(20, calls // 10))
        samples[n] = {"ours": mine, "baseline": base}
        note = f"{len(mine)} calls; baseline: plain Feast, 5 scalars, {n} rows"
        metrics += [
            Metric(f"online_rank_{n}_p50_ms", percentile(mine, 50), "ms", percentile(base, 50), note=note),
            Metric(f"online_rank_{n}_p99_ms", percentile(mine, 99), "ms", percentile(base, 99), note=note),
        ]
    return metrics, samples


def http_rank_latency(ours: FeatureStore, n: int, requests: int, rate_per_s: float = 50.0) -> list[Metric]:
    """The ranking request for ``n`` candidates over ``feast serve`` (1 worker, loopback)."""

    def body() -> dict:
        return {"feature_service": RANK_SERVICE, "entities": _rows(n)}

    samples = http_samples(Path(ours.repo_path), body, requests, rate_per_s)
    return [Metric(f"http_rank_{n}_p99_ms", percentile(samples, 99), "ms",
                   note=f"{n} candidates, {rate_per_s:.0f} req/s, 1 worker")]
