"""``python -m stream_ingest.dead_letters``: a real Kafka topic's letters, printed with step, reason, payload."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer

from demo.stream import ingest_config, write_config
from stream_ingest.records import DeadLetter, RawEvent
from stream_ingest.sinks import KafkaDeadLetterSink

ROOT = Path(__file__).resolve().parents[2]
PRODUCED_MS = 1_765_000_000_000  # 2025-12-06 05:46:40 UTC


def _reader(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream_ingest.dead_letters", "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def _config(tmp_path: Path, bootstrap: str, topic: str) -> Path:
    config = ingest_config(tmp_path, bootstrap, "applications", "interactions", topic, "readers")
    return write_config(config, tmp_path / "ingest.yaml")


def test_every_letter_is_printed_oldest_first_with_step_reason_and_payload(
    kafka_bootstrap: str, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    topic = topic_factory("dead-letters", 1)
    sink = KafkaDeadLetterSink(lambda: Producer({"bootstrap.servers": kafka_bootstrap}), topic)
    sink.send([
        DeadLetter(RawEvent("job-applications", 1, 42, b"ap-1", b'{"event": "job_application"}', PRODUCED_MS),
                   "shape", "no shape matches this event"),
        DeadLetter(RawEvent("job-interactions", 0, 7, None, b"\xff\xfe", PRODUCED_MS + 1000, generation=2),
                   "parse", "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0"),
    ])
    sink.flush()
    done = _reader(_config(tmp_path, kafka_bootstrap, topic))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "#0/0  from job-applications/1/42 (produced 2025-12-06 05:46:40 UTC)\n"
        "  step:    shape\n"
        "  reason:  no shape matches this event\n"
        '  payload: {"event": "job_application"}\n\n'
        "#0/1  from job-interactions/0/7@g2 (produced 2025-12-06 05:46:41 UTC)\n"
        "  step:    parse\n"
        "  reason:  UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0\n"
        "  payload: base64://4=\n\n"
        f"2 dead letter(s) in {topic}\n")


def test_an_empty_topic_prints_none(kafka_bootstrap: str, topic_factory: Callable[..., str], tmp_path: Path) -> None:
    topic = topic_factory("dead-letters", 2)
    done = _reader(_config(tmp_path, kafka_bootstrap, topic))
    assert (done.returncode, done.stdout) == (0, f"0 dead letter(s) in {topic}\n"), done.stderr


def test_an_unreachable_broker_exits_3_naming_it(tmp_path: Path) -> None:
    done = _reader(_config(tmp_path, "127.0.0.1:9", "dead-letters"), "--timeout", "2")
    assert done.returncode == 3
    assert done.stderr.startswith("dead letters: Kafka at 127.0.0.1:9: KafkaException: "), done.stderr
