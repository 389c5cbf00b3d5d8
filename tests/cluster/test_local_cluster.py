"""The local Pinot + Kafka launcher itself: cached fetches, clean stops, clear start failures, loopback only."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from local_cluster.artifacts import Runtime, fetch
from local_cluster.cluster import ClusterEndpoints
from local_cluster.errors import StartError
from local_cluster.kafka import KafkaNode, start_kafka
from tests.cluster.sockets import listening
from tests.fixtures.cluster import CACHE, LocalPinot


def _port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def test_a_second_fetch_downloads_nothing(runtimes: tuple[Runtime, Runtime]) -> None:
    for runtime in runtimes:
        again = fetch(runtime.name, runtime.version, CACHE)
        assert not again.downloaded
        assert again.lib == runtime.lib
        assert again.size_mb == pytest.approx(runtime.size_mb)
        assert sorted(p.name for p in again.lib.iterdir()) == (again.lib.parent / "complete").read_text().split()


def test_kafka_stops_with_nothing_left_behind(runtimes: tuple[Runtime, Runtime], tmp_path: Path) -> None:
    node = start_kafka(runtimes[1], tmp_path / "kafka", heap_mb=256)
    assert node.version == runtimes[1].version  # read from the broker's own log
    assert _port_open(node.bootstrap)
    pid = node.process.pid
    node.stop()
    assert not node.process.alive()
    assert not _port_open(node.bootstrap)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_jvm_that_cannot_start_fails_with_its_log(runtimes: tuple[Runtime, Runtime], tmp_path: Path) -> None:
    broken = Runtime("kafka", "0", tmp_path / "no-such-lib", downloaded=False, fetch_s=0.0, size_mb=0.0)
    with pytest.raises(StartError, match=r"kafka storage format exited \(code 1\) before done formatting") as info:
        start_kafka(broken, tmp_path / "kafka")
    assert "kafka.tools.StorageTool" in str(info.value)  # the log's tail: Java's own complaint


def _loopback_only(processes: dict[str, int]) -> dict[str, list[str]]:
    """Every listening socket of each process that is not on 127.0.0.1 (none expected)."""
    found = {name: listening(pid) for name, pid in processes.items()}
    assert all(found.values()), f"a process listens nowhere: {found}"  # the listing itself works
    return {name: [a for a in addresses if not a.startswith("127.0.0.1:")] for name, addresses in found.items()}


def test_every_process_of_the_cluster_listens_on_loopback_only(
    local_cluster: LocalPinot, local_kafka: KafkaNode
) -> None:
    processes = {"kafka": local_kafka.process.pid, "zookeeper": local_cluster.node.zookeeper.pid,
                 "pinot controller+broker+server": local_cluster.node.services.pid}
    assert _loopback_only(processes) == {name: [] for name in processes}
    # the controller, broker, server admin and server query ports, all of them on loopback
    assert len(listening(local_cluster.node.services.pid)) == 4


def test_the_secured_cluster_listens_on_loopback_only(secured_cluster: ClusterEndpoints) -> None:
    processes = {"kafka": secured_cluster.kafka.process.pid, "zookeeper": secured_cluster.pinot.zookeeper.pid,
                 "pinot controller+broker+server": secured_cluster.pinot.services.pid}
    assert _loopback_only(processes) == {name: [] for name in processes}
