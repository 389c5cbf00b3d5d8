"""Apache Kafka and Apache Pinot together, fetched from Maven Central and run on loopback."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .artifacts import Runtime, fetch
from .kafka import KafkaNode, start_kafka
from .loopback import loopback_preload
from .pinot import PINOT_PORTS, PinotNode, pinot_ports, start_pinot
from .ports import claim_ports
from .security import Credentials

__all__ = [
    "DEFAULT_CACHE",
    "KAFKA_VERSION",
    "PINOT_VERSION",
    "ClusterEndpoints",
    "fetch_runtimes",
    "local_cluster",
    "online_store_block",
]

# Pinot 0.11.0 is the newest release whose controller, broker, server, tools and Kafka plugin Maven
# Central serves here in full (docs/pinot.md, "Which Pinot"); Kafka 3.9.2 still speaks to its 2.8 client.
PINOT_VERSION = "0.11.0"
KAFKA_VERSION = "3.9.2"
DEFAULT_CACHE = Path(".cache") / "local-cluster"  # relative to the working directory (the repo root in scripts/)


@dataclass(frozen=True)
class ClusterEndpoints:
    """Where the running cluster answers, and what starting it cost."""

    controller_url: str
    broker_url: str
    kafka_bootstrap: str
    pinot: PinotNode
    kafka: KafkaNode
    runtimes: tuple[Runtime, Runtime]

    def online_store_block(self, **extra: object) -> str:
        return online_store_block(self.controller_url, self.broker_url, self.kafka_bootstrap, **extra)

    @property
    def credentials(self) -> Credentials | None:
        return self.kafka.credentials

    def summary(self) -> list[str]:
        """One labelled line per endpoint, then what each start took."""
        return [
            f"pinot controller URL: {self.controller_url}",
            f"pinot broker URL:     {self.broker_url}",
            f"kafka bootstrap:      {self.kafka_bootstrap}",
            f"(Apache Pinot {self.pinot.version} started in {self.pinot.started_s:.1f} s, "
            f"Apache Kafka {self.kafka.version} in {self.kafka.started_s:.1f} s)",
        ]


def online_store_block(controller_url: str, broker_url: str, kafka_bootstrap: str, **extra: object) -> str:
    """The ``online_store`` block of a ``feature_store.yaml`` on this Pinot (``extra``: more store keys)."""
    settings = {
        "type": "feast_pinot.online.pinot.PinotOnlineStore",
        "controller_url": controller_url,
        "broker_url": broker_url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        **extra,
    }
    values = {k: str(v).lower() if isinstance(v, bool) else v for k, v in settings.items()}
    return "online_store:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items())


def fetch_runtimes(cache: Path) -> tuple[Runtime, Runtime]:
    """Pinot's and Kafka's classpaths, downloaded on first use."""
    return fetch("pinot", PINOT_VERSION, cache), fetch("kafka", KAFKA_VERSION, cache)


@contextmanager
def local_cluster(cache: Path, workdir: Path | None = None, secured: bool = False,
                  port_base: int | None = None) -> Iterator[ClusterEndpoints]:
    """Kafka, then Pinot, in fresh private directories; both stopped (and the directories removed) on exit.

    ``secured``: Kafka with SASL/SCRAM and ACLs, Pinot with HTTP Basic auth (``security.py``),
    with passwords made up for this start (``ClusterEndpoints.credentials``). ``port_base``: fixed
    ports, the same on every start (Kafka's bootstrap on it, Pinot's controller on ``+2`` and broker
    on ``+3``; ten in all); default: free ports, new on every start.
    """
    kafka_ports = None if port_base is None else (port_base, port_base + 1)
    if port_base is not None:  # all of them before anything starts
        last = port_base + 2 + PINOT_PORTS - 1
        claim_ports({"kafka broker": port_base, "kafka controller": port_base + 1, **pinot_ports(port_base + 2)},
                    f"--port-base {port_base} takes {port_base}..{last}: pick another")
    pinot_runtime, kafka_runtime = fetch_runtimes(cache)
    preload = loopback_preload(cache)
    credentials = Credentials.made_up() if secured else None
    home = Path(tempfile.mkdtemp(prefix="feast-pinot-cluster-", dir=workdir))
    # Kafka first: on 2 cores two JVMs starting at once crawl.
    kafka = start_kafka(kafka_runtime, home / "kafka", credentials=credentials, ports=kafka_ports)
    try:
        pinot = start_pinot(pinot_runtime, home / "pinot", preload, credentials=credentials,
                            port_base=None if port_base is None else port_base + 2)
        try:
            yield ClusterEndpoints(
                pinot.controller_url, pinot.broker_url, kafka.bootstrap, pinot, kafka, (pinot_runtime, kafka_runtime)
            )
        finally:
            pinot.stop()
    finally:
        kafka.stop()
        shutil.rmtree(home, ignore_errors=True)
