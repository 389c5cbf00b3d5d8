"""librdkafka's own log lines go through Python's logging at INFO at most, never raw to stderr."""

from __future__ import annotations

import logging
import socket

import pytest

from feast_pinot.online.pinot.errors import PinotConnectionError
from feast_pinot.online.pinot.kafka import KafkaWriter
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connecting there is refused


def test_an_unreachable_kafka_logs_through_python_logging(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    writer = KafkaWriter(PinotOnlineStoreConfig(controller_url="http://127.0.0.1:9", broker_url="http://127.0.0.1:9",
                                                kafka_bootstrap_servers=address, write_timeout_s=1.0))
    with caplog.at_level(logging.DEBUG, logger="feast_pinot.online.pinot.kafka"):
        with pytest.raises(PinotConnectionError, match=f"is Kafka at {address} reachable"):
            writer.produce("t", [(b"k", b"v")])
        writer.close()
    failed = [r for r in caplog.records if "FAIL" in r.getMessage() and address in r.getMessage()]
    assert failed, [r.getMessage() for r in caplog.records]  # librdkafka said it, through logging
    assert {r.levelno for r in failed} == {logging.INFO}  # its error level, capped
    assert "|FAIL|" not in capfd.readouterr().err  # and nothing raw on stderr
