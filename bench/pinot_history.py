"""Read latency of the history query through pinotdb, against the Pinot stand-in.

    python -m bench.pinot_history [--reads 500] [--members 200] [--actions 200]

Loads ``members x actions`` actions (64-dim embeddings, all within retention)
into an action-log table, then times ``reads`` history reads of one random
member (cap 200, 96 h window): the raw query through a pinotdb cursor, and the
backend's ``read_histories`` (query + decoding into arrays). Kafka:
``KAFKA_BOOTSTRAP_SERVERS`` or a local broker; Pinot: ``PINOT_CONTROLLER_URL``
+ ``PINOT_BROKER_URL`` or the stand-in (the figures then describe the stand-in,
a Python/DuckDB process, not Pinot).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.results import Metric, percentile
from feast_pinot.actions import Action
from feast_pinot.online.backend import HistoryWindow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot_backend import PinotBackend

HOUR = 3_600_000
DIM = 64
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def _kafka() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    from stream_ingest.local import LocalBroker

    with LocalBroker.start() as broker:
        yield broker.bootstrap


@contextmanager
def _pinot() -> Iterator[tuple[str, str, str]]:
    """(controller URL, broker URL, what they are)."""
    controller, broker = os.environ.get("PINOT_CONTROLLER_URL"), os.environ.get("PINOT_BROKER_URL")
    if controller and broker:
        yield controller, broker, "Apache Pinot"
        return
    # Its own process: in this one it would compete with the client for the GIL.
    process = subprocess.Popen([sys.executable, "-m", "tests.pinot_standin"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        urls = dict(process.stdout.readline().strip().split("=", 1) for _ in range(2))
        yield urls["PINOT_CONTROLLER_URL"], urls["PINOT_BROKER_URL"], "the Pinot stand-in (Python + DuckDB)"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _load(backend: PinotBackend, table: str, members: int, per_member: int, now: int) -> None:
    rng = random.Random(1)
    window = HistoryWindow(now - 96 * HOUR, now, per_member)
    batch: list[Action] = []
    for member in range(1, members + 1):
        for i in range(per_member):
            ts = now - rng.randrange(1, 90 * HOUR)
            embedding = tuple(rng.uniform(-1, 1) for _ in range(DIM))
            batch.append(Action(f"m{member}-{i}", member, rng.choice(["job-apply", "job-view"]),
                                f"job:{rng.randrange(5000)}", ts, embedding, "{}"))
        if len(batch) >= 5000 or member == members:
            backend.append_actions(table, batch, window)
            batch = []


def _time(call: Callable[[], object], reads: int) -> list[float]:
    for _ in range(20):  # warm-up: connections, caches
        call()
    samples = []
    for _ in range(reads):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def _report(label: str, samples: list[float]) -> None:
    print(f"  {label:<44} p50 {percentile(samples, 50):6.2f} ms   p99 {percentile(samples, 99):6.2f} ms   "
          f"mean {sum(samples) / len(samples):6.2f} ms   (n={len(samples)})")


@dataclass(frozen=True)
class Timings:
    what: str  # the Pinot the figures describe
    raw_query: list[float]
    read_histories: list[float]


def measure(reads: int, members: int, per_member: int) -> Timings:
    """Load an action-log table, then time history reads of one random member each."""
    with ExitStack() as stack:
        bootstrap = stack.enter_context(_kafka())
        controller, broker, what = stack.enter_context(_pinot())
        config = PinotOnlineStoreConfig(controller_url=controller, broker_url=broker,
                                         kafka_bootstrap_servers=bootstrap, name_prefix=f"bench{uuid.uuid4().hex[:6]}_",
                                         wait_for_ingestion=True, ingestion_timeout_s=120)
        backend = PinotBackend(config)
        spec = TableSpec("history", "actions", actor_is_int=True, embedding_dim=DIM, retention_ms=96 * HOUR)
        backend.create_tables([spec])
        stack.callback(backend.close)
        stack.callback(backend.drop_tables, [spec])
        now = time.time_ns() // 1_000_000
        _load(backend, spec.name, members, per_member, now)
        window = HistoryWindow(now - 96 * HOUR, now, 200)
        rng = random.Random(2)
        query = backend._history_query(backend._layout.table(spec.name), [1], window, 200)
        cursor = backend._broker._cursor()
        raw = _time(lambda: cursor.execute(query.template, query.params), reads)
        decoded = _time(lambda: backend.read_histories(spec.name, [rng.randint(1, members)], window), reads)
    return Timings(what, raw, decoded)


def history_metrics(quick: bool) -> list[Metric]:
    """``pinot_standin_history_p50_ms`` for ``python -m bench``."""
    timings = measure(reads=100 if quick else 500, members=10 if quick else 200, per_member=200)
    return [Metric("pinot_standin_history_p50_ms", percentile(timings.read_histories, 50), "ms",
                   note=f"history of 1 member (200 actions, dim {DIM}) through pinotdb to {timings.what}: "
                        "the client path only, not Pinot's speed")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pinot_history", description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--actions", type=int, default=200, help="actions per member (the history cap is 200)")
    args = parser.parse_args(argv)
    timings = measure(args.reads, args.members, args.actions)
    print(f"history of 1 member, cap 200, dim {DIM}, through pinotdb to {timings.what}:")
    _report("raw query (pinotdb cursor.execute)", timings.raw_query)
    _report("read_histories (query + decode to arrays)", timings.read_histories)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
