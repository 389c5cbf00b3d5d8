"""The stream ingester into PinotOnlineStore: raw events in, exact online windows out.

The ingester's own round-trip test, with the example repo switched to Pinot:
its attribute lookups read Pinot, its online sink appends to Pinot.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from feast import FeatureStore

from demo.synthetic import actions, application
from feast_pinot.clock import now_ms
from local_cluster.topics import produce, read_topic
from stream_ingest.sinks import decode_dead_letter
from tests.fixtures.pinot import PinotEndpoints, pinot_settings
from tests.ingest.conftest import Topics, eventually, running, scenario
from tests.ingest.support import ingest_config
from tests.ingest.test_kafka_roundtrip import check_online, produce_actions
from tests.integration.conftest import make_repo


@pytest.fixture
def pinot_repo(tmp_path: Path, pinot_endpoints: PinotEndpoints, pinot_prefix: str) -> Path:
    """The example repo on this test's Pinot tables."""
    repo = tmp_path / "repo"
    make_repo(repo, scenario(members=50), pinot_settings(pinot_endpoints, pinot_prefix))
    return repo


def _topics(topic_factory: Callable[..., str], consumer_group: str, partitions: int) -> Topics:
    return Topics(topic_factory("applications", partitions), topic_factory("interactions", partitions),
                  topic_factory("dead-letters", 1), consumer_group)


@pytest.mark.parametrize("write", ["direct", "push"])
def test_ingester_fills_pinot(
    pinot_repo: Path, kafka_bootstrap: str, topic_factory: Callable[..., str], consumer_group: str, write: str,
) -> None:
    repo = pinot_repo
    topics = _topics(topic_factory, consumer_group, partitions=2)
    s = scenario(members=8)
    items = actions(s)
    produce_actions(kafka_bootstrap, topics, items)
    config = ingest_config(repo, kafka_bootstrap, topics.applications, topics.interactions, topics.dead_letters,
                           topics.group, online={"write": write})
    with running(config) as runner:
        eventually(lambda: runner.stats.snapshot().events_in == len(items), 120, "all events handled")
    snapshot = runner.stats.snapshot()
    assert (snapshot.stored, snapshot.dead_lettered) == (len(items), 0)
    check_online(repo, items, s)


@pytest.mark.parametrize("write", ["direct", "push"])
def test_an_id_pinot_would_cut_is_dead_lettered_and_its_batch_stored(
    pinot_repo: Path, kafka_bootstrap: str, topic_factory: Callable[..., str], consumer_group: str, write: str,
) -> None:
    repo = pinot_repo
    topics = _topics(topic_factory, consumer_group, partitions=1)
    now = now_ms()
    events = [application(f"ok-{i}", 1, i, now - 10_000 + i) for i in range(4)]
    events.insert(2, application("cut\x00here", 1, 9, now - 5_000))  # Pinot would store "cut"
    produce(kafka_bootstrap, topics.applications, [(b"1", event) for event in events])
    config = ingest_config(repo, kafka_bootstrap, topics.applications, topics.interactions, topics.dead_letters,
                           topics.group, online={"write": write})
    with running(config) as runner:
        eventually(lambda: runner.stats.snapshot().events_in == len(events), 120, "all events handled")
    snapshot = runner.stats.snapshot()
    assert (snapshot.stored, snapshot.dead_lettered) == (4, 1)
    letters = [decode_dead_letter(m.value()) for m in read_topic(kafka_bootstrap, topics.dead_letters, expected=1)]
    assert [letter.event.value for letter in letters] == [events[2]]
    assert "NUL" in letters[0].reason
    store = FeatureStore(repo_path=str(repo))
    got = store.get_online_features(features=["member_recent_actions:action_objects"],
                                    entity_rows=[{"member_id": 1}]).to_dict()
    assert sorted(got["action_objects"][0]) == [f"job:{i}" for i in range(4)]
