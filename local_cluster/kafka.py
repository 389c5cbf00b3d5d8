"""A single-node Apache Kafka in KRaft mode (broker and controller in one JVM) on loopback.

With :class:`~local_cluster.security.Credentials` it is secured as a production
Kafka often is: clients log in with SCRAM-SHA-512 over SASL_PLAINTEXT, the
controller listener with PLAIN as ``admin``, and the standard authorizer
allows nothing but the ACLs of ``security.KAFKA_ACLS`` (``admin`` is a super user).
"""

from __future__ import annotations

import base64
import re
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in its __all__
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from .artifacts import Runtime
from .ports import HOST, free_ports
from .process import JavaProcess, wait_until
from .security import KAFKA_ACLS, Credentials

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
    credentials: Credentials | None = None

    def stop(self) -> None:
        self.process.stop()

    def client_settings(self, user: str = "admin") -> dict[str, str | int | float | bool]:
        """librdkafka settings of a client of this broker (logged in as ``user`` when secured)."""
        login = self.credentials.kafka_client(user) if self.credentials is not None else {}
        return {"bootstrap.servers": self.bootstrap, **login}


def _sasl(credentials: Credentials) -> dict[str, str]:
    admin = credentials.kafka["admin"]
    return {
        "listeners": "SASL_PLAINTEXT://{broker},CONTROLLER://{controller}",
        "advertised.listeners": "SASL_PLAINTEXT://{broker}",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        # SCRAM credentials live in the metadata the controller serves, so the controller listener uses PLAIN.
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{admin}" user_admin="{admin}";',
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": credentials.scram_jaas("admin"),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
        "allow.everyone.if.no.acl.found": "false",
    }


def _server_properties(home: Path, broker_port: int, controller_port: int,
                       credentials: Credentials | None = None) -> str:
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
    if credentials is not None:
        addresses = {"broker": f"{HOST}:{broker_port}", "controller": f"{HOST}:{controller_port}"}
        settings.update({k: v.format(**addresses) if "listeners" in k else v for k, v in _sasl(credentials).items()})
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _cluster_id() -> str:
    # Kafka's Uuid.toString form; a leading '-' would be read as an option by StorageTool.
    return "A" + base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()[1:]


def _answers(settings: dict[str, str | int | float | bool]) -> bool:
    host, port = str(settings["bootstrap.servers"]).rsplit(":", 1)
    try:  # a TCP check first: librdkafka logs every refused connection to stderr
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    try:
        AdminClient(dict(settings)).list_topics(timeout=2)
    except KafkaException:
        return False
    return True


def _grant(settings: dict[str, str | int | float | bool]) -> None:
    """Create the ACLs of ``security.KAFKA_ACLS``."""
    bindings = [AclBinding(getattr(ResourceType, kind), "*", ResourcePatternType.LITERAL, f"User:{user}", "*",
                           getattr(AclOperation, operation), AclPermissionType.ALLOW)
                for user, kind, operation in KAFKA_ACLS]
    admin = AdminClient(dict(settings))  # kept alive until the futures resolve
    for future in admin.create_acls(bindings).values():
        future.result(30)


def _version(log: Path, fallback: str) -> str:
    found = re.search(r"Kafka version: (\S+)", log.read_text(errors="replace"))
    return found.group(1) if found else fallback


def start_kafka(runtime: Runtime, home: Path, heap_mb: int = 512,
                credentials: Credentials | None = None, ports: tuple[int, int] | None = None) -> KafkaNode:
    """Format a fresh KRaft log directory in ``home`` and start the broker; return once it answers.

    With ``credentials`` the broker is secured (SASL, ACLs) and the users exist before it starts.
    ``ports``: the broker's and the KRaft controller's (default: free ones).
    """
    started = time.monotonic()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    broker_port, controller_port = ports or free_ports(2)
    properties, log4j = home / "server.properties", home / "log4j.properties"
    properties.touch(mode=0o600)  # it holds the passwords when secured
    properties.write_text(_server_properties(home, broker_port, controller_port, credentials))
    log4j.write_text(_LOG4J)
    logging = [f"-Dlog4j.configuration=file:{log4j}", f"-Dkafka.logs.dir={home / 'logs'}"]
    common = ["-cp", runtime.classpath, *logging]
    users: list[str] = []
    for user, password in (credentials.kafka.items() if credentials is not None else ()):
        users += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
    formatter = JavaProcess("kafka storage format", ["-Xmx256m", *common, "kafka.tools.StorageTool", "format",
                                                     "-t", _cluster_id(), "-c", str(properties), *users],
                            home / "logs" / "format.log", home)
    wait_until(formatter, lambda: not formatter.alive() and formatter.returncode == 0, 60, "done formatting")
    process = JavaProcess("kafka", [f"-Xms{heap_mb // 2}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC",
                                    f"-Djava.io.tmpdir={home}", *common, "kafka.Kafka", str(properties)],
                          home / "logs" / "kafka.log", home)
    node = KafkaNode(f"{HOST}:{broker_port}", runtime.version, process, 0.0, credentials)
    try:
        wait_until(process, lambda: _answers(node.client_settings()), _READY_DEADLINE_S,
                   "answering on " + node.bootstrap)
        if credentials is not None:
            _grant(node.client_settings())
    except BaseException:
        process.stop()
        raise
    node.version, node.started_s = _version(process.log, runtime.version), time.monotonic() - started
    return node
