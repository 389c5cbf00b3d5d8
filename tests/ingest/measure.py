"""Measure the ingester: event-to-visible latency and one process's ingest rate.

    python -m tests.ingest.measure [--samples 200] [--events 100000]

* latency: an ingester process (the example config: linger 20 ms) runs; one
  raw ``job_application`` at a time is produced, and the clock stops when
  ``get_online_features`` of the windowed view counts it;
* rate: ``--events`` raw events of both shapes are produced first, then one
  in-process runner (enrichment on: embedding and geo lookups, cached)
  drains them; events/s = events after the first batch / time from the
  first batch to the last, for each online write path.

Uses ``KAFKA_BOOTSTRAP_SERVERS`` if set, else a local Tansu broker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Producer

from demo.synthetic import Scenario, actions
from feast_pinot.clock import now_ms
from stream_ingest.local import IngesterProcess, LocalBroker, create_topics, produce
from stream_ingest.runner import build_runner
from tests.ingest.conftest import HOUR, JOBS, eventually, scenario, store_of
from tests.ingest.support import application, ingest_config, raw_of, write_config
from tests.integration.conftest import make_repo

COUNT_1H = "member_job_windows:job_apply_count_1h"


@contextlib.contextmanager
def broker() -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with LocalBroker.start() as local:
        yield local.bootstrap


def topics(bootstrap: str, partitions: int) -> tuple[str, str, str, str]:
    tag = uuid.uuid4().hex[:8]
    names = (f"applications-{tag}", f"interactions-{tag}", f"dead-letters-{tag}")
    create_topics(bootstrap, list(names), partitions)
    return (*names, f"measure-{tag}")


def latency(repo: Path, bootstrap: str, samples: int, workdir: Path) -> list[float]:
    apps, inter, dead, group = topics(bootstrap, 1)
    config = write_config(ingest_config(repo, bootstrap, apps, inter, dead, group, status={"interval_s": 10}),
                          workdir / "latency.yaml")
    process = IngesterProcess.start(config, None, workdir / "latency.log")
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    store = store_of(repo)
    out = []
    try:
        process.wait_assigned()
        for i in range(samples):
            member = 10_000 + i  # a fresh member: its count goes 0 -> 1
            started = time.perf_counter()
            producer.produce(apps, key=str(member).encode(), value=application(f"lat-{i}", member, i % JOBS, now_ms()))
            producer.flush(10)
            while store.get_online_features(features=[COUNT_1H], entity_rows=[
                    {"member_id": member, "job_id": 0, "request_ts": now_ms()}]).to_dict()["job_apply_count_1h"][0] != 1:
                pass
            out.append((time.perf_counter() - started) * 1000)
    finally:
        process.stop()
    return out


def rate(repo: Path, bootstrap: str, s: Scenario, write: str, batch: int) -> tuple[int, float]:
    apps, inter, dead, group = topics(bootstrap, 4)
    items = actions(s)
    split: dict[str, list[tuple[bytes, bytes]]] = {apps: [], inter: []}
    for kind, key, value in map(raw_of, items):
        split[apps if kind == "applications" else inter].append((key, value))
    for topic, messages in split.items():
        produce(bootstrap, topic, messages)
    config = ingest_config(repo, bootstrap, apps, inter, dead, group, online={"write": write},
                           batch={"max_events": batch},
                           offline={"flush_interval_ms": 5000}, status={"interval_s": 60})
    runner = build_runner(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    eventually(lambda: runner.stats.snapshot().events_in > 0, 60, "the first batch")
    started, first = time.perf_counter(), runner.stats.snapshot().events_in  # past the group join
    eventually(lambda: runner.stats.snapshot().events_in >= len(items), 600, "every event")
    elapsed = time.perf_counter() - started
    runner.stop()
    thread.join()
    return len(items) - first, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000, help="batch.max_events for the rate runs")
    parser.add_argument("--latency", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    workdir = Path(tempfile.mkdtemp(prefix="ingest-measure-"))
    members = max(1, args.events // 50)
    repo = workdir / "repo"
    make_repo(repo, scenario(members=10))
    with broker() as bootstrap:
        if args.latency:
            lat = sorted(latency(repo, bootstrap, args.samples, workdir))
            print(f"event -> visible in get_online_features: p50 {statistics.median(lat):.1f} ms, "
                  f"p99 {lat[int(0.99 * (len(lat) - 1))]:.1f} ms, max {lat[-1]:.1f} ms over {len(lat)} events")
        # ~50 actions per member in the last 2 h (the online store keeps 200 per member)
        s = Scenario(start_ms=now_ms() - 2 * HOUR, hours=1.95, members=members, jobs=JOBS, actions_per_member_hour=25)
        for write in ("direct", "push"):
            # a fresh copy each: the same application ids would be deduplicated, not written
            n, elapsed = rate(Path(shutil.copytree(repo, workdir / f"repo-{write}")), bootstrap, s, write, args.batch)
            print(f"one process, enrichment on, online.write={write}, batch.max_events={args.batch}: "
                  f"{n} events in {elapsed:.2f} s "
                  f"= {n / elapsed:,.0f} events/s")


if __name__ == "__main__":
    main()
