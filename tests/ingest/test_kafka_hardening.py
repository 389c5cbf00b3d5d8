"""Through a real Kafka-protocol broker: a stream mixing every kind of poison with good
events stores or dead-letters each event exactly once, and a recreated topic's events
are all stored, online and offline."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from confluent_kafka.admin import AdminClient

from demo.synthetic import actions
from feast_pinot.clock import now_ms
from local_cluster.topics import create_topics, produce
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
        eventually(lambda: runner.stats.snapshot().events_in == produced, 90, "every event handled")
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


def recreate(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(names).values():
        future.result(30)
    deadline = time.monotonic() + 30
    while set(names) & set(admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "the topics were not deleted"
        time.sleep(0.2)
    create_topics(bootstrap, names, partitions)


def test_events_of_a_recreated_topic_are_all_stored_online_and_offline(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    before = actions(scenario(members=15, per_hour=10))
    after = [{**a, "action_id": f"r-{a['action_id']}"}  # new events: the producer's ids are new too
             for a in actions(dataclasses.replace(scenario(members=15, per_hour=10), seed=8))]
    config = make_config()
    for topic, messages in split_by_topic(before, topics).items():
        produce(kafka_bootstrap, topic, messages)
    with running(config) as runner:
        eventually(lambda: runner.stats.snapshot().stored == len(before), 60, "the first incarnation stored")

    raw_topics = [topics.applications, topics.interactions]
    recreate(kafka_bootstrap, raw_topics, 2)  # offsets start again at 0
    for topic, messages in split_by_topic(after, topics).items():
        produce(kafka_bootstrap, topic, messages)
    with running(config) as runner:
        eventually(lambda: runner.stats.snapshot().stored == len(after), 60, "the second incarnation stored")
        time.sleep(0.5)  # one more status line
    snap = runner.stats.snapshot()
    assert (snap.events_in, snap.stored, snap.offsets_went_back) == (len(after), len(after), 4)
    assert "offsets went back 4" in snap.line()

    members = sorted({a["actor"] for a in before + after})
    online = stored_online(repo, members)
    assert online == expected_online(before + after)
    offline = read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()
    assert len(offline) == len(set(offline)) == len(before) + len(after)
    derived = [i for i in offline if "/" in i]  # topic/partition/offset: the interactions' ids
    interactions = [sum(a["verb"] != "job-apply" for a in part) for part in (before, after)]
    assert len(derived) == sum(interactions)
    assert sum(i.endswith("@g1") for i in derived) == interactions[1]  # the new incarnation's ids
    after_online = sum(online.values()) - len(before)
    after_offline = len(offline) - len(before)
    print(f"\nrecreated topics: before {len(before)} stored; after: produced {len(after)}, "
          f"stored online {after_online}, offline {after_offline}, partitions renewed {snap.offsets_went_back}")


# Needs the real Apache Kafka of the session: librdkafka 2.x dies (SIGSEGV) on the Tansu
# development broker's metadata of a topic deleted while it is consumed.
def test_a_topic_recreated_while_the_ingester_reads_it_loses_nothing(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    before = actions(scenario(members=10, per_hour=10))
    after = [{**a, "action_id": f"r-{a['action_id']}"}
             for a in actions(dataclasses.replace(scenario(members=10, per_hour=10), seed=9))]
    with running(make_config()) as runner:
        for topic, messages in split_by_topic(before, topics).items():
            produce(kafka_bootstrap, topic, messages)
        eventually(lambda: runner.stats.snapshot().stored == len(before), 60, "the first incarnation stored")
        recreate(kafka_bootstrap, [topics.applications, topics.interactions], 2)
        for topic, messages in split_by_topic(after, topics).items():
            produce(kafka_bootstrap, topic, messages)
        members = sorted({a["actor"] for a in before + after})
        expected = expected_online(before + after)
        eventually(lambda: set(stored_online(repo, members)) == set(expected), 90, "the second incarnation online")
    snap = runner.stats.snapshot()
    online = stored_online(repo, members)
    assert set(online) == set(expected)  # none lost; some read before the check may be there twice
    assert snap.offsets_went_back == 4
    offline = read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()
    assert len(offline) == len(set(offline)) == len(before) + len(after)
    print(f"\nrecreated while running: produced before {len(before)}, after {len(after)}; stored online "
          f"{sum(online.values())} ({sum(online.values()) - len(expected)} twice), offline {len(offline)}; "
          f"{snap.line()}")
