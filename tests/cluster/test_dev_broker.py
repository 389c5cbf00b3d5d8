"""``python -m local_cluster.broker``: the development broker, its topics, and how to use it, printed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient

from demo.stream import ingest_config, write_config
from local_cluster.ports import free_ports

ROOT = Path(__file__).resolve().parents[2]


def test_the_broker_command_creates_the_configs_topics_and_says_how_to_use_it(tmp_path: Path) -> None:
    config = write_config(ingest_config(tmp_path, "unused:9092", "apps", "interactions", "dead", "g"),
                          tmp_path / "ingest.yaml")
    (port,) = free_ports(1)
    proc = subprocess.Popen([sys.executable, "-m", "local_cluster.broker", "--config", str(config), "--port", str(port),
                             "--partitions", "3"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "Ctrl-C stops it.":  # until it has said everything (or died: "")
            line = proc.stdout.readline()
            assert line, f"the broker exited: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line.rstrip("\n"))
        bootstrap = f"127.0.0.1:{port}"
        topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
        partitions = {name: len(topics[name].partitions) for name in ("apps", "interactions", "dead")}
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert partitions == {"apps": 3, "interactions": 3, "dead": 1}
    assert lines == [
        "topics: apps, interactions (3 partitions each), dead (dead letters)",
        f"kafka bootstrap: {bootstrap}   (Tansu, in memory: a restart starts empty)",
        f"run the ingester:  python -m stream_ingest --config {config} --bootstrap-servers {bootstrap}",
        f"read dead letters: python -m stream_ingest.dead_letters --config {config} --bootstrap-servers {bootstrap}",
        f"or: export KAFKA_BOOTSTRAP_SERVERS={bootstrap}",
        "Ctrl-C stops it.",
    ]
    assert code == 0
