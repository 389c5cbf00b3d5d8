"""The local Pinot + Kafka launcher itself: cached fetches, clean stops, clear start failures."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from local_cluster.artifacts import Runtime, fetch
from local_cluster.errors import StartError
from local_cluster.kafka import start_kafka
from tests.fixtures.cluster import CACHE


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
