"""The end-to-end demo, on the embedded default store or on a real Apache Pinot.

    python -m demo [--workdir demo-output] [--members 200] [--pinot]

``--pinot`` first starts a local Apache Pinot + Apache Kafka (``local_cluster``,
fetched from Maven Central on first use) and points the repo's online store at
it: raw events then go through Kafka, the ingester, Kafka again and Pinot's
REALTIME tables before ``get_online_features`` sees them.

1. copies ``feature_repo/`` to the work directory and writes its batch sources;
2. ``feast apply`` and ``feast materialize-incremental`` with the real CLI;
3. backfills 96 hours of synthetic member actions (online and offline);
4. starts a Kafka-protocol broker (or uses ``KAFKA_BOOTSTRAP_SERVERS``, or
   with ``--pinot`` the local Apache Kafka) and
   the stream ingester on the repo's ``ingest.yaml``; produces raw
   interactions, one malformed event and live applications one at a time,
   measuring how long each application takes from produced to visible in
   ``get_online_features`` while one member's windowed features move; stops
   the ingester (SIGTERM) and shows its counters and the dead letter;
5. shows a member with two distinct interests (``demo/two_interests.py``):
   the plain 96 h mean is close to neither, ``interest_max_sim`` finds both;
   with a decayed similarity and what the member already applied to, online
   and in training data for the same instant (``two_interests.json``);
6. builds a training set with ``get_historical_features`` and checks that it
   equals what the online store served for the same members and instants
   (the ingester's offline Parquet parts included).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from confluent_kafka import Producer
from feast import FeatureStore

from demo.repo import use_online_store
from demo.stream import produced_to_visible
from demo.synthetic import Scenario, actions, application, job_embeddings, raw_by_kind, write_batch_sources
from demo.two_interests import show_two_interests
from feast_pinot import push_actions, with_request_ts
from feast_pinot.clock import frozen, now_ms
from local_cluster import ClusterEndpoints, local_cluster
from local_cluster.cluster import DEFAULT_CACHE
from local_cluster.ingester import IngesterProcess
from local_cluster.tansu import kafka_broker
from local_cluster.topics import create_topics, produce, read_topic
from stream_ingest.sinks import decode_dead_letter

REPO_SOURCE = Path(__file__).resolve().parents[1] / "feature_repo"
HOUR = 3_600_000
SERVICE = "job_ranking_v1"
# The topics of feature_repo/ingest.yaml.
APPLICATIONS, INTERACTIONS, DEAD_LETTERS = "job-applications", "job-interactions", "member-actions-dead-letters"
WATCHED = 1  # the member whose features the live part shows moving
MALFORMED = b'{"event": "job_application", "member_id": 1, "job_id": '


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def prepare_repo(workdir: Path, scenario: Scenario, online_store: str | None = None) -> Path:
    repo = workdir / "feature_repo"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(REPO_SOURCE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    if online_store is not None:
        use_online_store(repo, online_store)
    write_batch_sources(repo, scenario)
    feast = str(Path(sys.executable).parent / "feast")
    for args in (["apply"], ["materialize-incremental", pd.Timestamp.now(tz="UTC").isoformat()]):
        say(f"feast {' '.join(args)}")
        # Feast's experimental-feature warnings would drown the demo: show output only on failure.
        done = subprocess.run([feast, *args], cwd=repo, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"feast {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return repo


def backfill(store: FeatureStore, scenario: Scenario) -> int:
    history = actions(scenario)
    light = [{k: v for k, v in a.items() if k != "objectAttributes"} for a in history]
    started = time.perf_counter()
    # As of the scenario's end: its first actions stay within the retention however long apply took.
    with frozen(scenario.end_ms):
        for start in range(0, len(history), 2000):
            push_actions(store, "member_actions", history[start:start + 2000])
            push_actions(store, "member_actions_light", light[start:start + 2000])
    say(f"backfilled {len(history)} actions into two logs in {time.perf_counter() - started:.1f} s")
    return len(history)


@contextlib.contextmanager
def _broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap is not None:
        yield bootstrap
        return
    with kafka_broker() as started:
        yield started


def live(repo: Path, store: FeatureStore, scenario: Scenario, bootstrap: str | None = None) -> list[float]:
    """The live part through Kafka and an ingester process; the produce -> visible latencies.

    ``bootstrap``: the Kafka to use (the local cluster's with ``--pinot``); by default a local broker.
    """
    with _broker(bootstrap) as bootstrap:
        create_topics(bootstrap, [APPLICATIONS, INTERACTIONS], partitions=4, exist_ok=True)
        create_topics(bootstrap, [DEAD_LETTERS], exist_ok=True)
        ingester = IngesterProcess.start(repo / "ingest.yaml", bootstrap, repo / "ingester.log")
        try:
            ingester.wait_assigned()
            say(f"ingester running (broker {bootstrap}, log {ingester.log_path})")
            produce(bootstrap, APPLICATIONS, [(str(WATCHED).encode(), MALFORMED)])
            latencies = live_traffic(store, Producer({"bootstrap.servers": bootstrap, "linger.ms": 0}), scenario)
        finally:
            code = ingester.stop()
        say(f"ingester stopped with exit code {code}; {ingester.final_status()}")
        show_dead_letter(bootstrap)
    return latencies


def live_traffic(store: FeatureStore, producer: Producer, scenario: Scenario, n: int = 30) -> list[float]:
    """``n`` raw applications one at a time, every other one by WATCHED to jobs of one
    topic, each after a share of ten minutes' raw interactions of every member."""
    recent = dataclasses.replace(scenario, start_ms=now_ms() - 600_000, hours=1 / 6, actions_per_member_hour=30)
    interactions = raw_by_kind(actions(recent, with_embeddings=False))["interactions"]
    latencies: list[float] = []
    shown = 0.0
    for i in range(n):
        for key, value in interactions[i::n]:
            producer.produce(INTERACTIONS, key=key, value=value)
        member, event = live_application(scenario, i)
        latencies.append(produced_to_visible(store, producer, APPLICATIONS, member, event))
        if time.monotonic() - shown >= 0.3:
            watch(store)
            shown = time.monotonic()
        time.sleep(0.1)  # a trickle, not a burst
    say(f"produced {len(interactions)} raw interactions, {n} raw applications and one malformed event")
    return latencies


def live_application(scenario: Scenario, i: int) -> tuple[int, bytes]:
    """The i-th live application: WATCHED's (to jobs of job 0's topic) or another member's."""
    if i % 2 == 0:
        topic, _ = job_embeddings(scenario)
        favourites = np.flatnonzero(topic == topic[0])
        member, job = WATCHED, int(favourites[i // 2 % len(favourites)])
    else:
        member, job = 2 + i % (scenario.members - 1), i % scenario.jobs
    return member, application(f"live-{now_ms()}-{i}", member, job, now_ms())


def watch(store: FeatureStore) -> None:
    row = {"member_id": WATCHED, "job_id": 0, "request_ts": now_ms()}
    got = store.get_online_features(features=store.get_feature_service(SERVICE), entity_rows=[row]).to_dict()
    say(f"  member {WATCHED}: applies 1h/24h = {got['job_apply_count_1h'][0]}/{got['job_apply_count_24h'][0]}, "
        f"similarity of job 0 to the 1h/96h apply means = "
        f"{got['job_apply_sim_1h'][0]:+.3f}/{got['job_apply_sim_96h'][0]:+.3f}")


def show_dead_letter(bootstrap: str) -> None:
    messages = read_topic(bootstrap, DEAD_LETTERS, expected=1)
    letters = [decode_dead_letter(value) for m in messages if (value := m.value()) is not None]
    ours = [letter for letter in letters if letter.event.value == MALFORMED]
    if not ours:
        raise SystemExit("[demo] the malformed event is not in the dead-letter topic")
    say(f"dead-letter topic {DEAD_LETTERS}: the malformed event, step {ours[-1].step!r}: {ours[-1].reason}")


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
    parser.add_argument("--pinot", action="store_true",
                        help="run on a local Apache Pinot + Kafka fetched from Maven Central (needs Java and Maven)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # Feast's experimental-feature notices drown the demo's output
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.pinot:
        return run(args, None)
    with local_cluster(DEFAULT_CACHE) as cluster:
        for line in cluster.summary():
            say(line)
        return run(args, cluster)


def run(args: argparse.Namespace, cluster: ClusterEndpoints | None) -> int:
    scenario = Scenario(start_ms=now_ms() - 96 * HOUR + 60_000, hours=95.9, members=args.members, jobs=2000)
    # wait_for_ingestion: the backfill is read right after it is written
    block = cluster.online_store_block(wait_for_ingestion=True, ingestion_timeout_s=120) if cluster else None
    repo = prepare_repo(args.workdir.resolve(), scenario, block)
    store = FeatureStore(repo_path=str(repo))
    backfill(store, scenario)
    latencies = live(repo, store, scenario, cluster.kafka_bootstrap if cluster is not None else None)
    p50, p99 = np.percentile(latencies, [50, 99])
    say(f"raw event produced -> visible in get_online_features: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"over {len(latencies)} live applications")
    show_member(store, scenario)
    worst = show_two_interests(store, scenario, args.workdir, say)["online_vs_training"]
    worst = max(worst, training_parity(store, scenario, args.workdir))
    say(f"online vs training data for the same instant: max abs difference {worst:.2e}")
    if worst > 1e-6:
        say("PARITY FAILED")
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
