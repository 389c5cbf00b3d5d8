"""Apache Pinot: history reads through pinotdb, the example service on PinotOnlineStore, freshness.

    python -m bench.pinot [--quick]

* ``pinot_history_p50_ms`` / ``_p99_ms``: the history of 1 member (200 actions,
  dim 64, 96 h window) read by the backend (one pinotdb query + decoding), with
  ``members`` members' actions in the table;
* ``pinot_online_p50_ms`` / ``_p99_ms``: ``get_online_features`` of the example
  service (3 batch + 18 windowed features) for 1 member on PinotOnlineStore;
* ``pinot_rank_<N>_p50_ms`` / ``_p99_ms``: the ranking service for 1 member and
  N = 1, 10, 100 candidates on PinotOnlineStore, against 1 candidate in
  alternating blocks (the cost of N against the cost of one);
* ``pinot_freshness_p50_ms`` / ``_p99_ms``: a raw event produced until
  ``get_online_features`` counts it: Kafka, the ingester, Kafka, Pinot.

Runs against ``PINOT_CONTROLLER_URL`` + ``PINOT_BROKER_URL`` +
``KAFKA_BOOTSTRAP_SERVERS`` when all are set, else starts ``local_cluster``
(Apache Pinot and Kafka fetched from Maven Central).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.online import SERVICE, interleaved
from bench.rank import RANK_SERVICE, candidate_rows
from bench.repos import BENCH_MEMBER, HOUR, ours
from bench.results import Metric, percentile, table
from bench.stream import freshness
from feast_pinot.actions import Action
from feast_pinot.clock import now_ms
from feast_pinot.online.backend import HistoryWindow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from local_cluster import local_cluster
from local_cluster.cluster import DEFAULT_CACHE, online_store_block

__all__ = ["Cluster", "pinot_metrics"]

DIM = 64
RANK_SIZES = (1, 10, 100)
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Cluster:
    controller_url: str
    broker_url: str
    kafka_bootstrap: str
    what: str

    def store_block(self, prefix: str) -> str:
        """The ``online_store`` block of a repo on this Pinot, tables named with ``prefix``."""
        return online_store_block(self.controller_url, self.broker_url, self.kafka_bootstrap, name_prefix=prefix,
                                  wait_for_ingestion=True, ingestion_timeout_s=120)


@contextmanager
def _cluster() -> Iterator[Cluster]:
    given = [os.environ.get(k) for k in ("PINOT_CONTROLLER_URL", "PINOT_BROKER_URL", "KAFKA_BOOTSTRAP_SERVERS")]
    if all(given):
        yield Cluster(*given, what="Apache Pinot at PINOT_BROKER_URL")  # type: ignore[arg-type]
        return
    with local_cluster(ROOT / DEFAULT_CACHE) as cluster:
        yield Cluster(cluster.controller_url, cluster.broker_url, cluster.kafka_bootstrap,
                      f"Apache Pinot {cluster.pinot.version}, local")


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


def _time(call: Callable[[], object], calls: int) -> list[float]:
    for _ in range(min(20, calls)):  # warm-up: connections, caches, Pinot's JIT
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


@contextmanager
def _history_table(cluster: Cluster, members: int) -> Iterator[tuple[PinotBackend, str, HistoryWindow, str]]:
    """An action-log table of ``members`` x 200 actions: (backend, its backend name, the 96 h window,
    its Pinot name: the name prefix + the backend name, as docs/pinot.md says)."""
    config = PinotOnlineStoreConfig(controller_url=cluster.controller_url, broker_url=cluster.broker_url,
                                    kafka_bootstrap_servers=cluster.kafka_bootstrap,
                                    name_prefix=f"bench{uuid.uuid4().hex[:6]}_", wait_for_ingestion=True,
                                    ingestion_timeout_s=120)
    spec = TableSpec("history", "actions", actor_is_int=True, embedding_dim=DIM, retention_ms=96 * HOUR)
    with ExitStack() as stack:
        backend = PinotBackend(config)
        stack.callback(backend.close)
        backend.create_tables([spec])
        stack.callback(backend.drop_tables, [spec])
        now = now_ms()
        _load(backend, spec.name, members, 200, now)
        yield backend, spec.name, HistoryWindow(now - 96 * HOUR, now, 200), config.name_prefix + spec.name


def history_reads(cluster: Cluster, reads: int, members: int) -> list[float]:
    """Milliseconds per history read of one random member (200 actions each, cap 200)."""
    with _history_table(cluster, members) as (backend, table, window, _):
        rng = random.Random(2)
        return _time(lambda: backend.read_histories(table, [rng.randint(1, members)], window), reads)


def history_split(cluster: Cluster, reads: int, members: int = 200) -> dict[str, list[float]]:
    """Where a history read's time goes: Pinot's own ``timeUsedMs`` against the whole HTTP round trip
    (request, JSON answer, parsing), with and without the embedding column and for an actor without actions
    (the floor: what any query costs on this Pinot), and the backend's whole read
    (the same query through pinotdb, rows decoded, embeddings as one array)."""
    everything = '"actor", "action_id", "timestamp", "verb", "object", "objectEmbedding"'
    # (columns, actor): the floor is the same query for an actor with no action, Pinot's cost of any query
    queries = {"with embedding": (everything, None),
               "without embedding": ('"actor", "action_id", "timestamp", "verb", "object"', None),
               "floor: an actor without actions": (everything, -1)}
    out: dict[str, list[float]] = {}
    with _history_table(cluster, members) as (backend, table, window, name), httpx.Client() as http:
        rng = random.Random(3)
        for label, (selected, actor) in queries.items():
            used: list[float] = []

            def query(selected: str = selected, actor: int | None = actor, used: list[float] = used) -> None:
                who = rng.randint(1, members) if actor is None else actor
                sql = (f'SELECT {selected} FROM "{name}" WHERE "actor" IN ({who}) '
                       f'AND "timestamp" > {window.since_ms} AND "timestamp" <= {window.until_ms} '
                       'ORDER BY "actor", "timestamp" DESC, "action_id" LIMIT 200')
                used.append(float(http.post(f"{cluster.broker_url}/query/sql", json={"sql": sql}).json()["timeUsedMs"]))

            out[f"round trip, {label}"] = _time(query, reads)
            out[f"Pinot timeUsedMs, {label}"] = used[-reads:]
        out["backend read_histories"] = _time(
            lambda: backend.read_histories(table, [rng.randint(1, members)], window), reads)
    return out


@dataclass(frozen=True)
class ServiceSamples:
    """Milliseconds per call of the example services on PinotOnlineStore, and the freshness samples."""

    online: list[float]
    rank: dict[int, tuple[list[float], list[float]]]  # N -> (N candidates, 1 candidate interleaved)
    freshness: list[float]


def services_and_freshness(cluster: Cluster, root: Path, calls: int, rank_sizes: tuple[int, ...],
                           samples: int) -> ServiceSamples:
    """``get_online_features`` of the example service for 1 member, the ranking service for 1 member and N
    candidates (against N = 1 in alternating blocks), then produced -> visible, on Pinot."""
    store = ours(root, online_store=cluster.store_block(f"bench{uuid.uuid4().hex[:6]}_"))
    service, ranking = store.get_feature_service(SERVICE), store.get_feature_service(RANK_SERVICE)

    def call() -> None:
        row = {"member_id": BENCH_MEMBER, "job_id": 7, "request_ts": now_ms()}
        store.get_online_features(features=service, entity_rows=[row]).to_dict()

    def rank(n: int) -> Callable[[], object]:
        return lambda: store.get_online_features(features=ranking, entity_rows=candidate_rows(n)).to_dict()

    online = _time(call, calls)
    ranked = {n: interleaved(rank(n), rank(1), calls // 2, warmup=20) for n in rank_sizes}
    return ServiceSamples(online, ranked, freshness(Path(store.repo_path), cluster.kafka_bootstrap, samples, root))


def pinot_metrics(quick: bool, root: Path) -> list[Metric]:
    """Every Pinot metric of ``python -m bench``."""
    with _cluster() as cluster:
        history = history_reads(cluster, reads=100 if quick else 500, members=10 if quick else 200)
        found = services_and_freshness(cluster, root, calls=100 if quick else 1000, rank_sizes=RANK_SIZES,
                                       samples=20 if quick else 100)
    where = f"through pinotdb to {cluster.what}"
    metrics = [
        Metric("pinot_history_p50_ms", percentile(history, 50), "ms",
               note=f"history of 1 member (200 actions, dim {DIM}) {where}"),
        Metric("pinot_history_p99_ms", percentile(history, 99), "ms", note="target <= 10"),
        Metric("pinot_online_p50_ms", percentile(found.online, 50), "ms",
               note=f"example service, 1 member, PinotOnlineStore {where}"),
        Metric("pinot_online_p99_ms", percentile(found.online, 99), "ms", note="target <= 15"),
    ]
    for n, (mine, one) in found.rank.items():
        note = f"{RANK_SERVICE}, 1 member x {n} candidates; baseline: 1 candidate, alternating blocks"
        metrics += [Metric(f"pinot_rank_{n}_p{q}_ms", percentile(mine, q), "ms", percentile(one, q), note=note)
                    for q in (50, 99)]
    return [
        *metrics,
        Metric("pinot_freshness_p50_ms", percentile(found.freshness, 50), "ms",
               note="raw event produced -> visible: Kafka, ingester, Kafka, Pinot REALTIME table"),
        Metric("pinot_freshness_p99_ms", percentile(found.freshness, 99), "ms", note="target <= 2000"),
    ]


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.pinot", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--split", action="store_true",
                        help="only where a history read's time goes: Pinot's timeUsedMs vs the round trip")
    args = parser.parse_args(argv)
    if args.split:
        with _cluster() as cluster:
            for label, samples in history_split(cluster, reads=100 if args.quick else 1000).items():
                print(f"{label:<40} p50 {percentile(samples, 50):6.2f} ms   p99 {percentile(samples, 99):6.2f} ms")
        return 0
    with tempfile.TemporaryDirectory(prefix="feast-pinot-bench-") as tmp:
        print(table(pinot_metrics(args.quick, Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
