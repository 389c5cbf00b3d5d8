"""Each backend says which of its failures are transient, and the ingester retries exactly those.

Real failures of the real backends: a SQLite file another connection holds locked, a
table dropped under the store, a value SQLite refuses; a Pinot whose controller, broker
and Kafka are not reachable. The ingester knows neither driver: it goes by
``OnlineStoreUnavailableError`` (retried), ``OnlineStoreValueError`` (the data's fault:
dead-lettered) and any other store error (broken: it gives up at once).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from feast_pinot.actions import Action
from feast_pinot.errors import OnlineStoreError, OnlineStoreUnavailableError, OnlineStoreValueError
from feast_pinot.online.backend import LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.pinot.errors import PinotConnectionError
from feast_pinot.online.pinot.kafka import KafkaWriter
from feast_pinot.online.sqlite_backend import SqliteBackend
from local_cluster.ports import free_ports
from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.errors import SinkError
from stream_ingest.pipeline import Ingester, Pipeline
from stream_ingest.records import RawEvent
from stream_ingest.retry import Failure, RetryPolicy, classify
from stream_ingest.sinks import DirectSink, MemoryDeadLetterSink
from tests.ingest.support import application, example_config_dict, offline_sink
from tests.ingest.test_config import LOG
from tests.ingest.test_pipeline import NOW, lookups, raw_events

ACTIONS = TableSpec("jobs_member_actions", "actions", actor_is_int=True, embedding_dim=LOG.embedding_dim,
                    retention_ms=LOG.retention_ms)
LATEST = TableSpec("jobs_profile", "latest")


@pytest.fixture(scope="module")
def config() -> IngestConfig:
    return parse_config(example_config_dict())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "online.db"
    SqliteBackend(path).create_tables([ACTIONS, LATEST])
    return path


@pytest.fixture
def locked(db: Path) -> Iterator[sqlite3.Connection]:
    """Another writer holding the file's write lock (as `feast materialize` would while it writes)."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    if holder.in_transaction:
        holder.execute("COMMIT")
    holder.close()


class Backoffs:
    """A retry policy's waits, recorded; ``then`` runs during the first one (e.g. the lock goes)."""

    def __init__(self, then: Callable[[], object] | None = None) -> None:
        self.waits: list[float] = []
        self._then = then

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) == 1 and self._then is not None:
            self._then()


def ingester(config: IngestConfig, root: Path, online: DirectSink, backoffs: Backoffs) -> Ingester:
    retry = RetryPolicy(attempts=4, initial_backoff_s=0.2, max_backoff_s=1.0, sleep=backoffs)
    return Ingester(Pipeline(config, LOG, lookups(), now_ms=lambda: NOW, retry=retry), online,
                    offline_sink(root, LOG), MemoryDeadLetterSink(), retry)


def applications(n: int) -> list[RawEvent]:
    return raw_events([("applications", b"1", application(f"a{i}", 1, i, NOW - 10)) for i in range(n)])


def stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(r[0] for r in conn.execute(f'SELECT action_id FROM "{ACTIONS.name}"'))


def an_action(action_id: str) -> Action:
    return Action(action_id, 1, "job-apply", "job:3", NOW - 10, (0.5,) * 64, "{}")


def test_a_locked_sqlite_file_is_unavailable(db: Path, locked: sqlite3.Connection) -> None:
    backend = SqliteBackend(db, busy_timeout_ms=50)
    with pytest.raises(OnlineStoreUnavailableError, match="SQLite write to .* failed: database is locked") as raised:
        backend.append_actions(ACTIONS.name, [an_action("x")], LOG.window(NOW))
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
    assert classify(raised.value) is Failure.TRANSIENT


def test_the_ingester_retries_a_locked_store_until_the_lock_goes(
    config: IngestConfig, db: Path, locked: sqlite3.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backoffs = Backoffs(then=lambda: locked.execute("COMMIT"))  # the other writer finishes meanwhile
    sink = DirectSink(SqliteBackend(db, busy_timeout_ms=50), ACTIONS.name, LOG, now_ms=lambda: NOW)
    h = ingester(config, tmp_path / "log", sink, backoffs)
    with caplog.at_level(logging.WARNING, logger="stream_ingest"):
        h.handle(applications(3))
    assert backoffs.waits == [0.2]  # one retry
    assert stored(db) == ["a0", "a1", "a2"]
    assert h.stats.snapshot().dead_lettered == 0
    assert "online write failed (attempt 1/4): OnlineStoreUnavailableError: SQLite write to" in caplog.text


def test_a_lock_held_past_the_retries_gives_up_without_dead_letters(
    config: IngestConfig, db: Path, locked: sqlite3.Connection, tmp_path: Path
) -> None:
    backoffs = Backoffs()
    sink = DirectSink(SqliteBackend(db, busy_timeout_ms=50), ACTIONS.name, LOG, now_ms=lambda: NOW)
    h = ingester(config, tmp_path / "log", sink, backoffs)
    with pytest.raises(SinkError, match="online write failed 4 time.s.; last error: OnlineStoreUnavailableError"):
        h.handle(applications(3))
    assert backoffs.waits == [0.2, 0.4, 0.8]
    assert h.stats.snapshot().dead_lettered == 0  # the events are fine: a restart replays them


def test_a_dropped_table_is_broken_and_not_retried(config: IngestConfig, db: Path, tmp_path: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f'DROP TABLE "{ACTIONS.name}"')
    backoffs = Backoffs()
    sink = DirectSink(SqliteBackend(db), ACTIONS.name, LOG, now_ms=lambda: NOW)
    h = ingester(config, tmp_path / "log", sink, backoffs)
    with pytest.raises(SinkError, match="online write failed 1 time.s.; last error: OnlineStoreError: .*no such table"):
        h.handle(applications(3))
    assert backoffs.waits == []
    assert h.stats.snapshot().dead_lettered == 0


def test_a_value_sqlite_refuses_is_the_datas_fault(db: Path) -> None:
    with pytest.raises(OnlineStoreValueError, match="NOT NULL constraint failed") as raised:
        SqliteBackend(db).write_latest(LATEST.name, [LatestRow("k", None, {"v": 1})])  # type: ignore[arg-type]
    assert isinstance(raised.value, ValueError) and not isinstance(raised.value, OnlineStoreUnavailableError)
    assert classify(raised.value) is Failure.DATA


def _unreachable_config(kafka: str | None = None) -> PinotOnlineStoreConfig:
    controller, broker, no_kafka = free_ports(3)
    return PinotOnlineStoreConfig(
        controller_url=f"http://127.0.0.1:{controller}", broker_url=f"http://127.0.0.1:{broker}",
        kafka_bootstrap_servers=kafka or f"127.0.0.1:{no_kafka}", name_prefix="unreachable_",
        http_timeout_s=5.0, write_timeout_s=1.0,
    )


@pytest.fixture
def unreachable() -> Iterator[Callable[..., PinotBackend]]:
    """``make(kafka=None)``: a Pinot whose controller and broker (and Kafka, unless given) listen nowhere."""
    made: list[PinotBackend] = []

    def make(kafka: str | None = None) -> PinotBackend:
        made.append(PinotBackend(_unreachable_config(kafka)))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


def test_an_unreachable_pinot_broker_or_kafka_is_unavailable(unreachable: Callable[..., PinotBackend]) -> None:
    backend = unreachable()
    with pytest.raises(PinotConnectionError, match="cannot reach the Pinot broker") as read:
        backend.read_latest(LATEST.name, ["k"])
    with pytest.raises(PinotConnectionError, match="cannot reach the Pinot controller") as write:
        backend.write_latest(LATEST.name, [LatestRow("k", 1, {"v": 1})])  # asks the controller for the layout
    with pytest.raises(PinotConnectionError, match="1 unacknowledged after 1.0 s") as produce:
        KafkaWriter(_unreachable_config()).produce("unreachable_topic", [(b"k", b"{}")])
    for raised in (read, write, produce):
        assert isinstance(raised.value, OnlineStoreUnavailableError)
        assert classify(raised.value) is Failure.TRANSIENT


def test_an_unreachable_pinot_controller_is_unavailable(
    unreachable: Callable[..., PinotBackend], kafka_bootstrap: str
) -> None:
    backend = unreachable(kafka=kafka_bootstrap)  # the table's topic is created, its schema cannot be
    with pytest.raises(PinotConnectionError, match="cannot reach the Pinot controller") as raised:
        backend.create_tables([LATEST])
    assert isinstance(raised.value, OnlineStoreUnavailableError)


def test_the_ingester_retries_an_unreachable_pinot_then_gives_up(
    config: IngestConfig, tmp_path: Path, unreachable: Callable[..., PinotBackend]
) -> None:
    backoffs = Backoffs()
    sink = DirectSink(unreachable(), ACTIONS.name, LOG, now_ms=lambda: NOW)
    h = ingester(config, tmp_path / "log", sink, backoffs)
    with pytest.raises(SinkError, match="online write failed 4 time.s.; last error: PinotConnectionError") as raised:
        h.handle(applications(2))
    assert backoffs.waits == [0.2, 0.4, 0.8]
    assert isinstance(raised.value.__cause__, OnlineStoreError)
    assert h.stats.snapshot().dead_lettered == 0
