"""The broker goes away: the ingester rides out an outage losing nothing, and gives up
(exit 3, nothing committed) when no broker answers for longer than configured."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.synthetic import actions
from feast_pinot.clock import now_ms
from local_cluster.ingester import IngesterProcess
from local_cluster.ports import free_ports
from local_cluster.tansu import LocalBroker
from local_cluster.topics import create_topics, produce
from stream_ingest.__main__ import main
from stream_ingest.errors import SinkError
from tests.fixtures.kafka import TcpProxy
from tests.ingest.conftest import Topics, eventually, running, scenario, start_runner
from tests.ingest.support import EXAMPLE_CONFIG, application, ingest_config, read_offline_log, write_config
from tests.ingest.test_kafka_processes import committed, expected_online, split_by_topic, stored_online


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """A broker of its own, reachable only through a proxy that can cut the connections."""
    port = free_ports(1)[0]
    broker = LocalBroker.start(log_path=tmp_path / "broker.log", advertised_port=port)
    try:
        yield f"127.0.0.1:{port}", TcpProxy(int(broker.bootstrap.rsplit(":", 1)[1]), port=port)
    finally:
        broker.stop()


def test_broker_outage_is_survived_without_loss(
    repo: Path, proxied_broker: tuple[str, TcpProxy], caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap, proxy = proxied_broker
    topics = Topics("applications", "interactions", "dead-letters", "outage-group")
    create_topics(bootstrap, [topics.applications, topics.interactions], 2)
    create_topics(bootstrap, [topics.dead_letters], 1)
    items = actions(scenario(members=20, per_hour=30))
    thirds = [items[i::3] for i in range(3)]
    members = sorted({a["actor"] for a in items})
    config = ingest_config(repo, bootstrap, topics.applications, topics.interactions, topics.dead_letters,
                           topics.group, offline={"flush_interval_ms": 1500},
                           retry={"attempts": 8, "initial_backoff_ms": 200, "max_backoff_ms": 1000})
    caplog.set_level(logging.INFO, logger="stream_ingest")

    def send(part: list[dict[str, Any]]) -> None:
        for topic, messages in split_by_topic(part, topics).items():
            produce(bootstrap, topic, messages)

    with running(config) as runner:
        send(thirds[0])
        eventually(lambda: runner.stats.snapshot().stored == len(thirds[0]), 120, "the first third")
        send(thirds[1])
        eventually(lambda: runner.stats.snapshot().stored == len(thirds[0]) + len(thirds[1]), 120, "the second third")
        proxy.cut()  # handled, not yet committed: the checkpoint falls into the outage
        eventually(lambda: "broker unreachable" in caplog.text, 120, "the runner to notice the outage")
        time.sleep(9)  # the outage goes on: longer than a sync commit waits for the coordinator (~6 s)
        proxy.restore()
        send(thirds[2])
        eventually(lambda: sum(stored_online(repo, members).values()) == len(items), 120, "every action online")
    assert stored_online(repo, members) == expected_online(items)
    offline_ids = read_offline_log(repo / "data" / "member_actions").column("action_id").to_pylist()
    assert len(offline_ids) == len(set(offline_ids)) == len(items)
    messages = caplog.text
    assert "broker unreachable" in messages
    # the checkpoint due in the outage waited for the broker instead of retrying the commit against it
    assert "offset commit failed" not in messages
    assert "broker reachable again" in messages


def test_no_broker_at_all_exits_3_after_the_configured_time(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = ingest_config(repo, f"127.0.0.1:{free_ports(1)[0]}", "a", "b", "dead", "g",
                           kafka={"unavailable_timeout_s": 2})
    assert main(["--config", str(write_config(config, tmp_path / "ingest.yaml"))]) == 3
    assert given_up_after_s(caplog.text) >= 2


def given_up_after_s(log: str) -> int:
    """How long the runner said no broker had answered when it gave up."""
    found = re.findall(r"giving up \(a restart replays from the last commit\): no broker reachable for (\d+) s", log)
    assert found, log
    return int(found[-1])


def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ingest.yaml"
    path.write_text(EXAMPLE_CONFIG.read_text().replace("linger_ms: 20", "linger_ms: -1"))
    assert main(["--config", str(path)]) == 2
    assert "batch.linger_ms: Input should be greater than or equal to 0" in capsys.readouterr().err


def test_a_store_that_keeps_failing_stops_the_runner_without_committing(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    config = make_config(offline={"flush_interval_ms": 600_000},
                         retry={"attempts": 2, "initial_backoff_ms": 10, "max_backoff_ms": 10})
    background = start_runner(config)
    runner = background.runner
    produce(kafka_bootstrap, topics.applications, [(b"1", application("first", 1, 5, now_ms()))])
    eventually(lambda: runner.stats.snapshot().stored == 1, 120, "the first action")  # handled, not committed
    with sqlite3.connect(repo / "data" / "online_store.db") as db:
        db.execute("DROP TABLE jobs_member_actions")  # the online store breaks
    produce(kafka_bootstrap, topics.applications, [(b"1", application("second", 1, 6, now_ms()))])
    background.thread.join(120)
    assert not background.thread.is_alive()
    assert len(background.failures) == 1 and isinstance(background.failures[0], SinkError)
    # the store is broken, not the event: given up at once (no retry can help), nothing dead-lettered
    assert "online write failed 1 time(s); last error: OnlineStoreError" in str(background.failures[0])
    assert "no such table" in str(background.failures[0])
    assert runner.stats.snapshot().dead_lettered == 0
    assert committed(kafka_bootstrap, topics.group, topics) == 0  # a restart replays both



def test_an_outage_with_a_checkpoint_due_ends_the_process_after_unavailable_timeout_s(
    repo: Path, proxied_broker: tuple[str, TcpProxy], tmp_path: Path
) -> None:
    bootstrap, proxy = proxied_broker
    topics = Topics("applications", "interactions", "dead-letters", "timeout-group")
    create_topics(bootstrap, [topics.applications, topics.interactions], 2)
    create_topics(bootstrap, [topics.dead_letters], 1)
    # The first batch is checkpointed at once, the second one's checkpoint falls ~2 s into
    # the outage; retrying its commit (8 attempts, up to 5 s apart) would keep the process
    # alive far beyond the 5 s the config allows.
    config = ingest_config(repo, bootstrap, topics.applications, topics.interactions, topics.dead_letters,
                           topics.group, kafka={"unavailable_timeout_s": 5}, offline={"flush_interval_ms": 4000},
                           retry={"attempts": 8, "initial_backoff_ms": 200, "max_backoff_ms": 5000})
    process = IngesterProcess.start(write_config(config, tmp_path / "ingest.yaml"), None, tmp_path / "ingest.log")
    try:
        process.wait_assigned()
        for first in (0, 10):
            produce(bootstrap, topics.applications,
                    [(b"1", application(f"t{i}", 1, i, now_ms())) for i in range(first, first + 10)])
            process.wait_for_log(f"total in {first + 10} stored {first + 10}")
        proxy.cut()  # the second batch is handled, not yet committed
        code = process.process.wait(300)
    finally:
        process.stop()
    log = process.log_text()
    assert code == 3, log
    # It gave up because no broker answered for the configured time, not after retrying the
    # commit (that would log "offset commit failed" and keep it alive for up to 8 x 5 s).
    assert given_up_after_s(log) >= 5
    assert "offset commit failed" not in log
