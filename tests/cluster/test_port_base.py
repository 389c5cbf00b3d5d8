"""``--port-base N``: the same ports on every start, so a feature_store.yaml stays valid; a taken one is named."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

from local_cluster.artifacts import Runtime
from local_cluster.errors import StartError
from local_cluster.kafka import start_kafka
from local_cluster.pinot import PINOT_PORTS, pinot_ports
from local_cluster.ports import HOST, claim_ports
from tests.cluster.sockets import listening

ROOT = Path(__file__).resolve().parents[2]
TAKES = 2 + PINOT_PORTS


def _free_base() -> int:
    """A base whose ten ports are free now (a random one: other sessions may be picking too)."""
    for _ in range(50):
        base = random.randrange(20_000, 40_000)
        try:
            claim_ports({str(p): p for p in range(base, base + TAKES)}, "")
        except StartError:
            continue
        return base
    raise AssertionError("no ten free ports in 50 tries")


def test_pinot_ports_put_the_controller_and_broker_first() -> None:
    ports = pinot_ports(30_002)
    assert (ports["pinot controller"], ports["pinot broker"], ports["pinot zookeeper"]) == (30_002, 30_003, 30_004)
    assert sorted(ports.values()) == list(range(30_002, 30_002 + PINOT_PORTS))


def test_a_taken_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    base = _free_base()
    with socket.socket() as squatter:
        squatter.bind((HOST, base + 3))
        squatter.listen()
        done = subprocess.run([sys.executable, "-m", "local_cluster", "--port-base", str(base), "--cache",
                               str(tmp_path / "empty-cache")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"local cluster: ports not free on {HOST}: pinot broker {base + 3}; "
                                   f"--port-base {base} takes {base}..{base + TAKES - 1}: pick another")
    assert not (tmp_path / "empty-cache").exists()  # refused before fetching anything


def test_kafka_on_fixed_ports_comes_back_on_them_after_a_restart(
    runtimes: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    base = _free_base()
    for start in ("first", "second"):  # the second right after the first stopped
        node = start_kafka(runtimes[1], tmp_path / start, heap_mb=256, ports=(base, base + 1))
        try:
            assert node.bootstrap == f"{HOST}:{base}"
            assert f"{HOST}:{base}" in listening(node.process.pid)
        finally:
            node.stop()
