"""The stream ingester: end-to-end freshness and one runner's ingest rate.

* freshness: an ingester process (the example config) consumes a local
  broker's topics; one raw ``job_application`` at a time is produced and the
  clock stops when ``get_online_features`` of the windowed view counts it
  (``demo.stream.produced_to_visible``);
* rate: raw events of both shapes are produced first, then one in-process
  runner (enrichment on: embedding and geo lookups, cached) drains them;
  events/s = events after the first batch / time from the first batch to
  the last (the consumer-group join is not counted).

Uses ``KAFKA_BOOTSTRAP_SERVERS`` if set, else a local Tansu broker.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from feast import FeatureStore

from bench.repos import HOUR, JOBS, example_repo
from bench.results import Metric, percentile
from demo.stream import ingest_config, produced_to_visible, write_config
from demo.synthetic import Scenario, actions, application, raw_by_kind
from feast_pinot.clock import now_ms
from local_cluster.ingester import IngesterProcess
from local_cluster.polling import eventually
from local_cluster.tansu import kafka_broker
from local_cluster.topics import create_topics, produce
from stream_ingest.__main__ import gc_frozen
from stream_ingest.runner import KafkaRunner, build_runner

__all__ = ["freshness", "ingest_rate", "stream_metrics"]

# design.md §9: freshness p50 <= 100 ms, p99 <= 500 ms; one process >= 20,000 events/s.
_FRESHNESS = "raw event produced -> visible in get_online_features, ingester process, embedded store"


def stream_metrics(root: Path, quick: bool) -> tuple[list[Metric], list[float]]:
    """Freshness p50/p99 and one runner's ingest rate; the freshness samples (ms) for the plot."""
    samples, events = (30, 5_000) if quick else (200, 100_000)
    root.mkdir(parents=True, exist_ok=True)
    members = max(1, events // 50)  # ~50 actions each: the online store keeps 200 per member
    repo = root / "repo"
    example_repo(repo, Scenario(start_ms=now_ms() - 2 * HOUR, hours=1.95, members=10, jobs=JOBS))
    burst = Scenario(start_ms=now_ms() - 2 * HOUR, hours=1.95, members=members, jobs=JOBS,
                     actions_per_member_hour=25)
    with kafka_broker(root / "broker.log") as bootstrap:
        latencies = freshness(repo, bootstrap, samples, root)
        # a fresh copy: the freshness run's data must not slow or dedupe the rate run's writes
        n, elapsed = ingest_rate(Path(shutil.copytree(repo, root / "repo-rate")), bootstrap, burst)
    metrics = [
        Metric("freshness_p50_ms", percentile(latencies, 50), "ms", note=f"{_FRESHNESS}; target <= 100"),
        Metric("freshness_p99_ms", percentile(latencies, 99), "ms", note=f"{_FRESHNESS}; target <= 500"),
        Metric("ingest_events_per_s", n / elapsed, "events/s",
               note=f"one runner, enrichment on, {n:,} queued raw events; target >= 20,000"),
    ]
    return metrics, latencies


def _topics(bootstrap: str, partitions: int) -> tuple[str, str, str, str]:
    """Fresh applications, interactions and dead-letter topics, and a fresh group id."""
    tag = uuid.uuid4().hex[:8]
    names = (f"applications-{tag}", f"interactions-{tag}", f"dead-letters-{tag}")
    create_topics(bootstrap, list(names), partitions)
    return (*names, f"bench-{tag}")


def freshness(repo: Path, bootstrap: str, samples: int, workdir: Path) -> list[float]:
    """Milliseconds from producing each of ``samples`` raw applications (one at a time,
    each by a member without history) to seeing it in ``get_online_features``."""
    apps, inter, dead, group = _topics(bootstrap, 1)
    config = write_config(ingest_config(repo, bootstrap, apps, inter, dead, group, status={"interval_s": 10}),
                          workdir / "freshness.yaml")
    process = IngesterProcess.start(config, None, workdir / "freshness.log")
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    store = FeatureStore(repo_path=str(repo))
    try:
        process.wait_assigned()
        return [
            produced_to_visible(
                store, producer, apps, member, application(f"fresh-{member}", member, i % JOBS, now_ms())
            )
            for i, member in enumerate(range(10_000, 10_000 + samples))
        ]
    finally:
        process.stop()


def ingest_rate(repo: Path, bootstrap: str, scenario: Scenario, **sections: dict[str, Any]) -> tuple[int, float]:
    """(events, seconds) of one in-process runner draining the scenario's raw events;
    ``sections`` override the example config (e.g. ``online={"write": "push"}``)."""
    apps, inter, dead, group = _topics(bootstrap, 4)
    items = actions(scenario)
    raw = raw_by_kind(items)
    produce(bootstrap, apps, raw["applications"])
    produce(bootstrap, inter, raw["interactions"])
    config = ingest_config(
        repo,
        bootstrap,
        apps,
        inter,
        dead,
        group,
        **{"offline": {"flush_interval_ms": 5000}, "status": {"interval_s": 60}, **sections},
    )
    runner = build_runner(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    with gc_frozen():  # as python -m stream_ingest runs it
        thread.start()
        return _drain(runner, thread, len(items))


def _drain(runner: KafkaRunner, thread: threading.Thread, events: int) -> tuple[int, float]:
    try:
        eventually(lambda: runner.stats.snapshot().events_in > 0, 60, "the first batch")
        started, first = time.perf_counter(), runner.stats.snapshot().events_in  # past the group join
        eventually(lambda: runner.stats.snapshot().events_in >= events, 600, "every event")
        return events - first, time.perf_counter() - started
    finally:
        runner.stop()
        thread.join(60)
