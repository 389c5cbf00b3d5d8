"""Ranking latency: one member and N candidate jobs per call, against plain Feast reading N rows.

``python -m bench`` runs :func:`rank_latency` and :func:`http_rank_latency`;
``python -m bench.rank`` is the focused sub-run, which also times Feast's
generic on-demand path (each row's ODFV body on its own: the path before the
ranking read) in the same process.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

from feast import FeatureStore
from feast.infra.online_stores.online_store import OnlineStore

from bench.online import BLOCK, PLAIN_FEATURES, http_samples, interleaved, services_ratio
from bench.plots import scaling_plot
from bench.repos import BENCH_MEMBER, JOBS, ours, plain_feast
from bench.results import Metric, percentile, table
from feast_pinot.clock import now_ms

__all__ = [
    "RANK_SERVICE", "candidate_rows", "http_rank_latency", "multi_interest_rank_latency", "rank_latency", "rank_plot",
]

RANK_SERVICE = "job_candidates_v1"  # 3 batch features, 6 similarities, 6 counts
# job_candidates_v1 + per candidate: 4 decayed similarities, 8 seen counts/ages, 2 interest similarities
MULTI_INTEREST_RANK_SERVICE = "job_candidates_v2"


def candidate_rows(n: int) -> dict[str, list[int]]:
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
            ours.get_online_features(features=service, entity_rows=candidate_rows(n)).to_dict()

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


def multi_interest_rank_latency(ours: FeatureStore, n: int, calls: int) -> Metric:
    """The ranking call for ``n`` candidates with the per-candidate decayed, multi-interest and
    seen features, against the same call without them (the member's clustering: once per call)."""
    return services_ratio(ours, f"online_rank_{n}_multi_interest_p99_ms", (MULTI_INTEREST_RANK_SERVICE, RANK_SERVICE),
                          lambda: candidate_rows(n), calls, warmup=max(20, calls // 10))


def rank_plot(by_size: dict[int, dict[str, list[float]]], path: Path) -> None:
    scaling_plot(by_size, {"ours": f"feast-pinot ({RANK_SERVICE})", "baseline": "plain Feast (5 scalars, SQLite)"},
                 "get_online_features, in process: one member, N candidates", path)


def http_rank_latency(ours: FeatureStore, n: int, requests: int, rate_per_s: float = 50.0) -> list[Metric]:
    """The ranking request for ``n`` candidates over ``feast serve`` (1 worker, loopback)."""

    def body() -> dict:
        return {"feature_service": RANK_SERVICE, "entities": candidate_rows(n)}

    samples = http_samples(Path(ours.repo_path), body, requests, rate_per_s)
    return [Metric(f"http_rank_{n}_p99_ms", percentile(samples, 99), "ms",
                   note=f"{n} candidates, {rate_per_s:.0f} req/s, 1 worker")]


def _generic(store: FeatureStore, n: int, calls: int, plain: FeatureStore) -> tuple[list[float], list[float]]:
    """Feast's generic OnlineStore.get_online_features (the ODFV body per row): the path before ranking."""
    online = store._get_provider().online_store
    service = store.get_feature_service(RANK_SERVICE)
    rows = {"member_id": list(range(1, n + 1))}

    def generic() -> None:
        OnlineStore.get_online_features(online, store.config, service, candidate_rows(n), store.registry,
                                        store.project).to_dict()

    def plain_call() -> None:
        plain.get_online_features(features=PLAIN_FEATURES, entity_rows=rows).to_dict()

    return interleaved(generic, plain_call, calls, warmup=5)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.rank``: ours, Feast's generic per-row path and plain Feast per N, one process."""
    parser = argparse.ArgumentParser(prog="python -m bench.rank", description=main.__doc__)
    parser.add_argument("--sizes", default="1,10,100,500")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--http-requests", type=int, default=200)
    parser.add_argument("--plots", type=Path, help="write rank_latency.png there (e.g. docs)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="feast-pinot-rank-") as tmp:
        mine, plain = ours(Path(tmp)), plain_feast(Path(tmp), members=max(sizes))
        metrics, by_size = rank_latency(mine, plain, sizes, args.calls)
        if args.plots:
            rank_plot(by_size, args.plots / "rank_latency.png")
        for n in sizes:
            generic, base = _generic(mine, n, max(BLOCK, args.calls // 3), plain)
            metrics += [Metric(f"generic_rank_{n}_p{q}_ms", percentile(generic, q), "ms", percentile(base, q),
                               note="Feast's generic ODFV path (before)") for q in (50, 99)]
        if args.http_requests:
            metrics += http_rank_latency(mine, 100, args.http_requests)
    print(table(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
