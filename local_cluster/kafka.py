"""A single-node Apache Kafka in KRaft mode (broker and controller in one JVM) on loopback."""

from __future__ import annotations

import base64
import re
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from local_cluster.artifacts import Runtime
from local_cluster.ports import HOST, free_ports
from local_cluster.process import JavaProcess, wait_until

__all__ = ["KafkaNode", "start_kafka"]

_READY_DEADLINE_S = 120.0
_LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


@dataclass
class KafkaNode:
    bootstrap: str
    version: str
    process: JavaProcess
    started_s: float

    def stop(self) -> None:
        self.process.stop()


def _server_properties(home: Path, broker_port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{broker_port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{broker_port}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(home / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",  # 50 by default: slow to create on 2 cores
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",  # tests join groups constantly
        "num.network.threads": "2",
        "num.io.threads": "2",
        "auto.create.topics.enable": "false",  # a typo'd topic fails instead of appearing
        "delete.topic.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _cluster_id() -> str:
    # Kafka's Uuid.toString form; a leading '-' would be read as an option by StorageTool.
    return "A" + base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()[1:]


def _answers(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:  # a TCP check first: librdkafka logs every refused connection to stderr
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
    except KafkaException:
        return False
    return True


def _version(log: Path, fallback: str) -> str:
    found = re.search(r"Kafka version: (\S+)", log.read_text(errors="replace"))
    return found.group(1) if found else fallback


def start_kafka(runtime: Runtime, home: Path, heap_mb: int = 512) -> KafkaNode:
    """Format a fresh KRaft log directory in ``home`` and start the broker; return once it answers."""
    started = time.monotonic()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    broker_port, controller_port = free_ports(2)
    properties, log4j = home / "server.properties", home / "log4j.properties"
    properties.write_text(_server_properties(home, broker_port, controller_port))
    log4j.write_text(_LOG4J)
    logging = [f"-Dlog4j.configuration=file:{log4j}", f"-Dkafka.logs.dir={home / 'logs'}"]
    common = ["-cp", runtime.classpath, *logging]
    formatter = JavaProcess("kafka storage format", ["-Xmx256m", *common, "kafka.tools.StorageTool", "format",
                                                     "-t", _cluster_id(), "-c", str(properties)],
                            home / "logs" / "format.log", home)
    wait_until(formatter, lambda: not formatter.alive() and formatter.returncode == 0, 60, "done formatting")
    process = JavaProcess("kafka", [f"-Xms{heap_mb // 2}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC",
                                    f"-Djava.io.tmpdir={home}", *common, "kafka.Kafka", str(properties)],
                          home / "logs" / "kafka.log", home)
    bootstrap = f"{HOST}:{broker_port}"
    try:
        wait_until(process, lambda: _answers(bootstrap), _READY_DEADLINE_S, "answering on " + bootstrap)
    except BaseException:
        process.stop()
        raise
    return KafkaNode(bootstrap, _version(process.log, runtime.version), process, time.monotonic() - started)
