"""Ingester processes (``python -m stream_ingest``): crash and restart, and scale-out."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from demo.synthetic import actions, raw_by_kind
from local_cluster.ingester import IngesterProcess
from local_cluster.topics import produce
from tests.ingest.conftest import Topics, eventually, scenario, store_of
from tests.ingest.support import read_offline_log, write_config

_FINAL = re.compile(r"stopped: .*total in (\d+) stored (\d+)")


def split_by_topic(items: list[dict[str, Any]], topics: Topics) -> dict[str, list[tuple[bytes, bytes]]]:
    raw = raw_by_kind(items)
    return {topics.applications: raw["applications"], topics.interactions: raw["interactions"]}


def stored_online(repo: Path, members: list[int]) -> Counter[tuple[int, int, str, str]]:
    """(member, ts, verb, object) of every action the online histories hold."""
    got = store_of(repo).get_online_features(
        features=[f"member_recent_actions:{f}" for f in ("action_ts", "action_verbs", "action_objects")],
        entity_rows=[{"member_id": m} for m in members],
    ).to_dict()
    return Counter(
        (m, ts, verb, obj)
        for m, tss, verbs, objs in zip(members, got["action_ts"], got["action_verbs"], got["action_objects"])
        for ts, verb, obj in zip(tss or [], verbs or [], objs or [])
    )


def expected_online(items: list[dict[str, Any]]) -> Counter[tuple[int, int, str, str]]:
    return Counter((a["actor"], a["timestamp"], a["verb"], a["object"]) for a in items)


def committed(bootstrap: str, group: str, topics: Topics) -> int:
    """Messages the group has committed over both raw topics (2 partitions each)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(t, p) for t in (topics.applications, topics.interactions) for p in (0, 1)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=10))
    finally:
        consumer.close()


def final_counts(process: IngesterProcess) -> tuple[int, int]:
    """(events in, stored) from the process's last line."""
    found = _FINAL.findall(process.log_text())
    assert found, process.log_text()
    events_in, stored = found[-1]
    return int(events_in), int(stored)


def send(bootstrap: str, items: list[dict[str, Any]], topics: Topics) -> None:
    for topic, messages in split_by_topic(items, topics).items():
        produce(bootstrap, topic, messages)


@pytest.mark.parametrize("log", ["local", "s3"])
def test_sigkill_mid_stream_then_restart_loses_nothing_and_duplicates_nothing(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any, tmp_path: Path, log: str,
    request: pytest.FixtureRequest,
) -> None:
    """On a local disk, and with the offline log (parts and marks) on the session's S3 server."""
    offline_root: str | Path = repo / "data" / "member_actions"
    where = {}
    if log == "s3":  # the ingester process inherits the S3 client environment the fixture sets
        offline_root = request.getfixturevalue("s3_log")
        where = {"path": offline_root}
    items = actions(scenario(members=40, per_hour=40))
    third = len(items) // 3
    handled = third + third // 2  # by the first process: its last half third never checkpointed
    members = sorted({a["actor"] for a in items})
    # Checkpoints only when `third` actions are buffered (never by time): the first third is
    # committed, the next half third handled but not, whatever the machine's speed.
    config = write_config(make_config(offline={"flush_interval_ms": 3_600_000, "max_rows": third, **where}),
                          tmp_path / "ingest.yaml")
    first = IngesterProcess.start(config, None, tmp_path / "first.log")
    second = None
    try:
        first.wait_assigned()
        send(kafka_bootstrap, items[:third], topics)
        eventually(lambda: committed(kafka_bootstrap, topics.group, topics) == third, 120, "the first checkpoint")
        send(kafka_bootstrap, items[third:handled], topics)
        eventually(lambda: sum(stored_online(repo, members).values()) == handled, 120,
                   "the next half third online", interval_s=0.5)
        first.kill()
        durable = committed(kafka_bootstrap, topics.group, topics)
        stored_by_first = sum(stored_online(repo, members).values())
        second = IngesterProcess.start(config, None, tmp_path / "second.log")
        send(kafka_bootstrap, items[handled:], topics)
        eventually(lambda: sum(stored_online(repo, members).values()) >= len(items), 120, "every action online",
                   interval_s=0.5)
        assert second.stop() == 0
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
    assert (durable, stored_by_first) == (third, handled)  # the kill landed with uncommitted work
    events_in, _stored = final_counts(second)
    assert events_in == len(items) - durable  # the restart resumed exactly at the last commit
    assert stored_online(repo, members) == expected_online(items)
    offline_ids = read_offline_log(offline_root).column("action_id").to_pylist()
    assert len(offline_ids) == len(set(offline_ids)) == len(items)
    print(
        f"\ncrash/restart ({log}): produced {len(items)}; the killed process stored {stored_by_first} online, "
        f"committed {durable}; handled after restart {events_in} (replayed {stored_by_first - durable}); "
        f"online {sum(stored_online(repo, members).values())}; offline rows {len(offline_ids)} "
        f"({len(set(offline_ids))} distinct)"
    )


def test_two_processes_in_one_group_split_the_partitions_and_store_each_action_once(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any, tmp_path: Path
) -> None:
    items = actions(scenario(members=30, per_hour=20))
    members = sorted({a["actor"] for a in items})
    config = write_config(make_config(), tmp_path / "ingest.yaml")
    a = IngesterProcess.start(config, None, tmp_path / "a.log")
    b = IngesterProcess.start(config, None, tmp_path / "b.log")
    try:
        b.wait_assigned()
        a.wait_assigned()
        eventually(
            lambda: _owned(a) | _owned(b) == _all(topics) and not _owned(a) & _owned(b),
            120,
            "the group to settle on a split",
        )
        for topic, messages in split_by_topic(items, topics).items():
            produce(kafka_bootstrap, topic, messages)
        eventually(lambda: sum(stored_online(repo, members).values()) >= len(items), 120, "every action online")
        a.request_stop()  # both at once
        b.request_stop()
        assert (a.stop(), b.stop()) == (0, 0)
    finally:
        a.stop()
        b.stop()
    (in_a, stored_a), (in_b, stored_b) = final_counts(a), final_counts(b)
    assert stored_a > 0 and stored_b > 0
    assert (in_a + in_b, stored_a + stored_b) == (len(items), len(items))
    assert stored_online(repo, members) == expected_online(items)
    offline_ids = read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()
    assert len(offline_ids) == len(set(offline_ids)) == len(items)
    print(f"\nscale-out: {len(items)} actions; process A stored {stored_a}, process B stored {stored_b}")


def _all(topics: Topics) -> set[str]:
    return {f"{t}[{p}]" for t in (topics.applications, topics.interactions) for p in (0, 1)}


def _owned(process: IngesterProcess) -> set[str]:
    """The partitions the process owns now, from its assigned/revoked log lines."""
    owned: set[str] = set()
    for line in process.log_text().splitlines():
        match = re.search(r"stream_ingest INFO (assigned|revoked) (.*)$", line)
        if match:
            names = {n.strip() for n in match.group(2).split(",")} - {"nothing"}
            owned = owned | names if match.group(1) == "assigned" else owned - names
    return owned
