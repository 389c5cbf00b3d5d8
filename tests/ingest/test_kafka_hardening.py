"""Through a real Kafka-protocol broker: a stream mixing every kind of poison with good
events stores or dead-letters each event exactly once, and a recreated topic's events
are all stored, online and offline."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from demo.synthetic import actions
from feast_pinot.clock import now_ms
from local_cluster.topics import create_topics, produce
from stream_ingest.runner import build_runner
from stream_ingest.runner.incarnations import generation_of
from stream_ingest.sinks import MAX_COPY_BYTES
from tests.fixtures.kafka import read_topic
from tests.ingest.conftest import Topics, eventually, running, scenario, store_of
from tests.ingest.poison import poison_events
from tests.ingest.support import interaction, read_offline_log
from tests.ingest.test_kafka_processes import expected_online, split_by_topic, stored_online
from tests.ingest.test_kafka_roundtrip import bad_events


def mixed(good: list[tuple[bytes, bytes]], bad: list[bytes | None]) -> list[tuple[bytes, Any]]:
    """Each bad event right after a good one, under its key: the same partition, the next offset."""
    out: list[tuple[bytes, Any]] = []
    for i, (key, value) in enumerate(good):
        out.append((key, value))
        if i < len(bad):
            out.append((key, bad[i]))
    return out


def test_a_mixed_stream_of_poison_and_good_events_loses_nothing(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    store = store_of(repo)
    store.write_to_online_store("job_attributes", pd.DataFrame({  # a job whose embedding has the wrong size
        "job_id": [9999], "embedding": [[0.1, 0.2, 0.3]], "geo": ["eu"],
        "event_timestamp": [pd.Timestamp.now(tz="UTC")],
    }))
    now = now_ms()
    items = actions(scenario(members=20, per_hour=10))
    good = split_by_topic(items, topics)
    bad_applications, bad_interactions = bad_events(now)
    poison = list(poison_events(now).values()) + list(bad_applications)
    skipped = [(str(m).encode(), interaction(m, 1, "impression", now - 1000)) for m in (1, 2, 3)]
    streams = {topics.applications: mixed(good[topics.applications], poison),
               topics.interactions: mixed(good[topics.interactions], list(bad_interactions)) + skipped}
    assert len(good[topics.applications]) > len(poison)  # every bad event sits between good ones
    for topic, messages in streams.items():
        produce(kafka_bootstrap, topic, messages)
    produced = sum(map(len, streams.values()))
    dead = len(poison) + len(bad_interactions)

    with running(make_config()) as runner:
        eventually(lambda: runner.stats.snapshot().events_in == produced, 120, "every event handled")
    snap = runner.stats.snapshot()
    assert (snap.events_in, snap.stored, snap.dead_lettered, snap.skipped) == (produced, len(items), dead, 3)

    letters = [json.loads(m.value() or b"") for m in read_topic(kafka_bootstrap, topics.dead_letters, dead)]
    assert len(letters) == len({letter["id"] for letter in letters}) == dead
    originals = sorted(v or b"" for v in [*poison, *bad_interactions])
    assert sorted(_original(letter, originals) for letter in letters) == originals  # each bad event once
    members = sorted({a["actor"] for a in items})
    online = stored_online(repo, members)
    assert online == expected_online(items)
    offline_ids = read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()
    assert len(offline_ids) == len(set(offline_ids)) == len(items)
    lost = produced - sum(online.values()) - len(letters) - snap.skipped
    assert lost == 0
    print(f"\nmixed bad-input run: in {snap.events_in} / stored {snap.stored} (online {sum(online.values())}, "
          f"offline {len(offline_ids)}) / dead-lettered {snap.dead_lettered} (in the topic {len(letters)}, "
          f"{sum(1 for x in letters if x['payload_truncated'])} truncated) / skipped {snap.skipped} / lost {lost}")


def _original(letter: dict[str, Any], originals: list[bytes]) -> bytes:
    """The event a letter carries: its copy, or for a truncated copy the original it begins."""
    value = base64.b64decode(letter["value_b64"]) if letter["value_b64"] is not None else b""
    cut = letter["payload_truncated"]
    if cut is None:
        return value
    assert len(value) == MAX_COPY_BYTES - len(base64.b64decode(letter["key_b64"] or ""))
    return next(v for v in originals if len(v) == cut["value_bytes"] and v.startswith(value))


def delete(bootstrap: str, names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(names).values():
        future.result(60)
    eventually(lambda: not set(names) & set(admin.list_topics(timeout=10).topics), 120, "the topics deleted")


def create(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    create_topics(bootstrap, names, partitions)
    eventually(lambda: all(len(admin.list_topics(n, timeout=10).topics[n].partitions) == partitions for n in names),
               120, "the new topics' partitions in the broker's metadata")


def recreate(bootstrap: str, names: list[str], partitions: int) -> None:
    delete(bootstrap, names)
    create(bootstrap, names, partitions)


def fresh(seed: int, per_hour: float = 10) -> list[dict[str, Any]]:
    """Another stream's actions (the producer's ids are new too)."""
    return [{**a, "action_id": f"r{seed}-{a['action_id']}"}
            for a in actions(dataclasses.replace(scenario(members=10, per_hour=per_hour), seed=seed))]


def send(bootstrap: str, items: list[dict[str, Any]], topics: Topics) -> None:
    for topic, messages in split_by_topic(items, topics).items():
        produce(bootstrap, topic, messages)


def offline_as_served(repo: Path) -> Counter[tuple[int, int, str, str]]:
    """(member, ts, verb, object) of the offline log as the offline store reads it: each action_id once."""
    table = read_offline_log(repo / "data" / "member_actions")
    rows = zip(*(table.column(c).to_pylist() for c in ("action_id", "member_id", "event_timestamp", "verb", "object")))
    first = {action_id: (m, int(ts.timestamp() * 1000), v, o) for action_id, m, ts, v, o in reversed(list(rows))}
    return Counter(first.values())


def assert_kept_everywhere(repo: Path, items: list[dict[str, Any]]) -> Counter[tuple[int, int, str, str]]:
    """Every action online and offline, and the offline log serving what the online store serves
    (an event read under both generations counts twice in both); the online multiset."""
    online = stored_online(repo, sorted({a["actor"] for a in items}))
    assert set(online) == set(expected_online(items))  # nothing lost online
    assert offline_as_served(repo) == online  # nothing lost offline: training equals serving
    return online


def committed_generations(bootstrap: str, group: str, topics: Topics) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(t, p) for t in (topics.applications, topics.interactions) for p in (0, 1)]
        return [generation_of(tp.metadata) for tp in consumer.committed(tps, timeout=10)]
    finally:
        consumer.close()


def test_a_restart_after_a_recreation_reads_the_new_topics_from_their_start(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    """The first run stops right after the recreation, without noticing it; the new topics are
    longer than the old ones, so a restart at any old position would skip new events."""
    before, after = fresh(1), fresh(2, per_hour=30)
    config = make_config()
    runner = build_runner(config)
    with runner.connect() as loop:
        eventually(lambda: loop.step() or len(loop.assigned) == 4, 120, "the partitions assigned")
        send(kafka_bootstrap, before, topics)
        eventually(lambda: loop.step() or runner.stats.snapshot().stored == len(before), 120, "the first stored")
        recreate(kafka_bootstrap, [topics.applications, topics.interactions], 2)  # offsets start again at 0
        send(kafka_bootstrap, after, topics)
        loop.final_checkpoint()  # SIGTERM now
    assert committed_generations(kafka_bootstrap, topics.group, topics) == [0, 0, 0, 0]

    with running(config) as runner:
        eventually(lambda: runner.stats.snapshot().stored == len(after), 120, "the second incarnation stored")
    snap = runner.stats.snapshot()
    assert (snap.events_in, snap.stored, snap.offsets_went_back) == (len(after), len(after), 4)
    assert "offsets went back 4" in snap.line()
    assert committed_generations(kafka_bootstrap, topics.group, topics) == [1, 1, 1, 1]

    online = assert_kept_everywhere(repo, before + after)
    assert online == expected_online(before + after)  # each once: read from the new topics' start
    offline = read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()
    assert len(offline) == len(set(offline)) == len(before) + len(after)
    derived = [i for i in offline if "/" in i]  # topic/partition/offset: the interactions' ids
    interactions = [sum(a["verb"] != "job-apply" for a in part) for part in (before, after)]
    assert len(derived) == sum(interactions)
    assert sum(i.endswith("@g1") for i in derived) == interactions[1]  # the new incarnation's ids
    print(f"\nrecreated topics: before {len(before)} stored; after: produced {len(after)}, "
          f"online and offline {len(offline) - len(before)}, partitions renewed {snap.offsets_went_back}")


# Needs the real Apache Kafka of the session: librdkafka 2.x dies (SIGSEGV) on the Tansu
# development broker's metadata of a topic deleted while it is consumed.
def test_a_topic_recreated_while_the_ingester_reads_it_loses_nothing(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    """Whatever the timing: the runner on its own thread, the topics recreated under it."""
    before, after = fresh(3), fresh(4)
    with running(make_config()) as runner:
        send(kafka_bootstrap, before, topics)
        eventually(lambda: runner.stats.snapshot().stored == len(before), 120, "the first incarnation stored")
        recreate(kafka_bootstrap, [topics.applications, topics.interactions], 2)
        send(kafka_bootstrap, after, topics)
        members = sorted({a["actor"] for a in before + after})
        expected = set(expected_online(before + after))
        eventually(lambda: runner.stats.snapshot().offsets_went_back == 4
                   and set(stored_online(repo, members)) == expected, 120, "every partition renewed, all online",
                   interval_s=0.5)
    online = assert_kept_everywhere(repo, before + after)
    print(f"\nrecreated while running: produced before {len(before)}, after {len(after)}; online and offline "
          f"{sum(online.values())} ({sum(online.values()) - len(expected)} read under both generations); "
          f"{runner.stats.snapshot().line()}")


def test_rows_read_before_a_recreation_is_noticed_are_kept(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    """The race of the test above, stepped by hand: the first incarnation's rows are still
    buffered (no checkpoint yet) when the checkpoint sees the topics' new ids."""
    before, after = fresh(5), fresh(6, per_hour=30)
    runner = build_runner(make_config(offline={"flush_interval_ms": 3_600_000}))  # checkpoints only when asked
    with runner.connect() as loop:
        eventually(lambda: loop.step() or len(loop.assigned) == 4, 120, "the partitions assigned")
        send(kafka_bootstrap, before, topics)
        eventually(lambda: loop.step() or runner.stats.snapshot().stored == len(before), 120, "the first stored")
        assert read_offline_log(repo / "data" / "member_actions").num_rows == 0  # all still buffered
        recreate(kafka_bootstrap, [topics.applications, topics.interactions], 2)
        send(kafka_bootstrap, after, topics)
        loop.checkpoint()  # flushes, then sees the new ids: every partition read again from its start
        assert runner.stats.snapshot().offsets_went_back == 4
        assert offline_as_served(repo) == expected_online(before)
        eventually(lambda: loop.step() or runner.stats.snapshot().stored >= len(before) + len(after), 120,
                   "the second incarnation stored")
        loop.final_checkpoint()
    online = assert_kept_everywhere(repo, before + after)
    assert online == expected_online(before + after)
    assert committed_generations(kafka_bootstrap, topics.group, topics) == [1, 1, 1, 1]


def test_a_checkpoint_while_the_topics_are_deleted_does_not_stop_the_ingester(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    """Kafka refuses to commit offsets of a topic it does not know (UNKNOWN_TOPIC_OR_PART, not
    retriable): those positions are given up, the ingester goes on and reads the recreated topics."""
    before, after = fresh(7, per_hour=3), fresh(8, per_hour=2)
    raw_topics = [topics.applications, topics.interactions]
    runner = build_runner(make_config(offline={"flush_interval_ms": 3_600_000}))  # checkpoints only when asked
    with runner.connect() as loop:
        eventually(lambda: loop.step() or len(loop.assigned) == 4, 120, "the partitions assigned")
        send(kafka_bootstrap, before, topics)
        eventually(lambda: loop.step() or runner.stats.snapshot().stored == len(before), 120, "the first stored")
        delete(kafka_bootstrap, raw_topics)
        loop.checkpoint()  # durable; the commit refused for every partition
        assert offline_as_served(repo) == expected_online(before)
        create(kafka_bootstrap, raw_topics, 2)
        send(kafka_bootstrap, after, topics)
        members = sorted({a["actor"] for a in before + after})

        def all_read() -> bool:
            loop.step()
            renewed = runner.stats.snapshot().offsets_went_back == 4
            return renewed and set(stored_online(repo, members)) == set(expected_online(before + after))

        eventually(all_read, 120, "the recreated topics read", interval_s=0.2)
        loop.final_checkpoint()
    assert_kept_everywhere(repo, before + after)
