"""In-process and HTTP serving latency, ours against plain Feast in the same run."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from feast import FeatureService, FeatureStore

from bench.repos import BENCH_MEMBER
from bench.results import Metric, percentile
from feast_pinot.clock import now_ms

__all__ = ["PLAIN_FEATURES", "http_latency", "http_samples", "interleaved", "multi_interest_latency", "online_latency",
           "services_ratio"]

SERVICE = "job_ranking_v1"
MULTI_INTEREST_SERVICE = "job_ranking_v2"  # job_ranking_v1 + decayed, multi-interest and seen features
BLOCK = 100
PLAIN_FEATURES = [f"member_stats:f{i}" for i in range(1, 6)]


def _timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - started) / 1e6


def interleaved(ours_call: Callable[[], object], plain_call: Callable[[], object],
                calls: int, warmup: int) -> tuple[list[float], list[float]]:
    """Milliseconds per call of each, measured in alternating blocks after a warm-up."""
    for _ in range(warmup):
        ours_call(), plain_call()
    mine: list[float] = []
    base: list[float] = []
    # Alternate in blocks, not call by call: Feast caches one request context
    # per process, and two stores taking turns would evict each other's.
    block = min(BLOCK, calls)
    for _ in range(max(1, calls // block)):
        mine += [_timed(ours_call) for _ in range(block)]
        base += [_timed(plain_call) for _ in range(block)]
    return mine, base


def online_latency(ours: FeatureStore, plain: FeatureStore, calls: int) -> tuple[list[Metric], dict]:
    """Interleaved blocks: ours (service: 3 batch + 18 windowed), plain Feast (5 scalars)."""
    service = ours.get_feature_service(SERVICE)

    def ours_call() -> None:
        row = {"member_id": BENCH_MEMBER, "job_id": 7, "request_ts": now_ms()}
        ours.get_online_features(features=service, entity_rows=[row]).to_dict()

    def plain_call() -> None:
        plain.get_online_features(features=PLAIN_FEATURES, entity_rows=[{"member_id": BENCH_MEMBER}]).to_dict()

    mine, base = interleaved(ours_call, plain_call, calls, warmup=max(50, calls // 10))
    metrics = [
        Metric("online_p50_ms", percentile(mine, 50), "ms", percentile(base, 50)),
        Metric("online_p99_ms", percentile(mine, 99), "ms", percentile(base, 99),
               note="ratio = ours / plain Feast at p99"),
    ]
    return metrics, {"ours": mine, "baseline": base}


def services_ratio(store: FeatureStore, name: str, services: tuple[str, str],
                   rows: Callable[[], list[dict[str, int]] | dict[str, list[int]]], calls: int, warmup: int) -> Metric:
    """The p99 of reading ``services[0]`` against ``services[1]`` (the baseline), the same rows,
    interleaved blocks of one run."""
    called = [store.get_feature_service(s) for s in services]

    def read(service: FeatureService) -> Callable[[], object]:
        return lambda: store.get_online_features(features=service, entity_rows=rows()).to_dict()

    mine, base = interleaved(read(called[0]), read(called[1]), calls, warmup)
    return Metric(name, percentile(mine, 99), "ms", percentile(base, 99),
                  note=f"{len(mine)} calls; ratio = {services[0]} / {services[1]} at p99 (target <= 2)")


def multi_interest_latency(ours: FeatureStore, calls: int) -> Metric:
    """One member with 200 actions: the decayed, multi-interest (k = 5) and seen features on top of
    the windowed ones, against the same call without them."""

    def rows() -> list[dict[str, int]]:
        return [{"member_id": BENCH_MEMBER, "job_id": 7, "request_ts": now_ms()}]

    return services_ratio(ours, "online_multi_interest_p99_ms", (MULTI_INTEREST_SERVICE, SERVICE), rows,
                          calls, warmup=max(50, calls // 10))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(repo: Path, port: int) -> subprocess.Popen:
    feast = str(Path(sys.executable).parent / "feast")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [feast, "serve", "-h", "127.0.0.1", "-p", str(port), "-w", "1", "--no-access-log",
         "--max-requests", "1000000"],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )


def _wait_ready(port: int, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"feast serve on port {port} did not become healthy")


def http_samples(repo: Path, body: Callable[[], dict], requests: int, rate_per_s: float) -> list[float]:
    """Milliseconds per ``POST /get-online-features`` over ``feast serve`` (1 worker, loopback),
    requests sent at a fixed rate."""
    port = _free_port()
    server = _serve(repo, port)
    try:
        _wait_ready(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def call() -> None:
            conn.request("POST", "/get-online-features", json.dumps(body()), {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"feast serve answered {response.status}: {payload[:200]!r}")

        for _ in range(50):
            call()
        samples = []
        interval = 1.0 / rate_per_s
        next_send = time.perf_counter()
        for _ in range(requests):
            next_send += interval
            samples.append(_timed(call))
            time.sleep(max(0.0, next_send - time.perf_counter()))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return samples


def http_latency(ours: FeatureStore, requests: int, rate_per_s: float = 200.0) -> tuple[list[Metric], list[float]]:
    """The in-process request over ``feast serve`` (1 worker, loopback) at a fixed rate."""

    def body() -> dict:
        return {
            "feature_service": SERVICE,
            "entities": {"member_id": [BENCH_MEMBER], "job_id": [7], "request_ts": [now_ms()]},
        }

    samples = http_samples(Path(ours.repo_path), body, requests, rate_per_s)
    metrics = [
        Metric("http_p50_ms", percentile(samples, 50), "ms", note=f"{rate_per_s:.0f} req/s, 1 worker"),
        Metric("http_p99_ms", percentile(samples, 99), "ms", note=f"{rate_per_s:.0f} req/s, 1 worker"),
    ]
    return metrics, samples
