"""Pinot's failures become exceptions that name the table and the query; never an empty result.

Faults are injected into the stand-in (a real Pinot cannot be told to fail), so
these tests always run against it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from feast_pinot.errors import OnlineStoreError
from feast_pinot.online.backend import HistoryWindow, LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.pinot.errors import (
    PinotConnectionError,
    PinotPartialResultError,
    PinotQueryError,
    PinotSchemaError,
    PinotTableMissingError,
    PinotTimeoutError,
    PinotWriteError,
)
from tests.fixtures.pinot import PinotEndpoints, drop_prefixed, pinot_settings
from tests.pinot_standin import ControllerTiming, PinotStandIn

PROFILE = TableSpec("p_profile", "latest", columns=(("industry", "String"), ("score", "Int64")))
ACTIONS = TableSpec("p_actions", "actions", actor_is_int=True)
WINDOW = HistoryWindow(0, 10**13, 10)
BackendFactory = Callable[..., PinotBackend]


def _endpoints(server: PinotStandIn, kafka_bootstrap: str) -> PinotEndpoints:
    return PinotEndpoints(server.controller_url, server.broker_url, kafka_bootstrap, kafka_bootstrap, server)


@pytest.fixture
def make_backend(standin: PinotStandIn, kafka_bootstrap: str) -> Iterator[BackendFactory]:
    """``make(server=None, **overrides)``: a backend on the stand-in with PROFILE and ACTIONS created."""
    made: list[tuple[PinotBackend, PinotEndpoints, str]] = []

    def make(server: PinotStandIn | None = None, create: bool = True, **overrides: Any) -> PinotBackend:
        endpoints = _endpoints(server or standin, kafka_bootstrap)
        prefix = f"e{len(made)}{id(made) % 10**6}_"
        backend = PinotBackend(PinotOnlineStoreConfig(**pinot_settings(endpoints, prefix, **overrides)))
        made.append((backend, endpoints, prefix))
        if create:
            backend.create_tables([PROFILE, ACTIONS])
        return backend

    yield make
    for backend, endpoints, prefix in made:
        backend.close()
        drop_prefixed(endpoints, prefix)


def _fault(standin: PinotStandIn, **fault: Any) -> None:
    httpx.post(f"{standin.broker_url}/__standin__/faults", json=fault).raise_for_status()


def _table(backend: PinotBackend, spec: TableSpec) -> str:
    return backend._layout.table(spec.name)


def test_exceptions_in_a_200_name_table_query_and_code(make_backend: BackendFactory, standin: PinotStandIn) -> None:
    backend = make_backend()
    table = _table(backend, PROFILE)
    _fault(standin, kind="exception", table=table, error_code=200)
    with pytest.raises(PinotQueryError) as raised:
        backend.read_latest(PROFILE.name, ["k1"])
    assert type(raised.value) is PinotQueryError and raised.value.error_code == 200
    assert raised.value.table == table
    assert raised.value.sql == (f'SELECT * FROM "{table}" WHERE "feast_entity_key" IN (\'k1\') ORDER BY '
                                '"feast_entity_key", "feast_event_ms" DESC, "feast_write_id" DESC LIMIT 1')
    assert str(raised.value) == (f"query on Pinot table '{table}' failed (Pinot error 200): 200: QueryExecutionError:\n"
                                 f"injected by the test\n  query: {raised.value.sql}")


@pytest.mark.parametrize(("fault", "error", "reason"), [
    ({"kind": "exception", "error_code": 250}, PinotTimeoutError, "250: ExecutionTimeoutError"),
    ({"kind": "partial"}, PinotPartialResultError, "only 1 of 2 servers responded (427: ServerNotResponding"),
    ({"kind": "slow", "delay_ms": 400}, PinotPartialResultError, "only 0 of 1 servers responded (427"),
])
def test_timeouts_and_partial_results_raise(make_backend: BackendFactory, standin: PinotStandIn,
                                            fault: dict[str, Any], error: type[PinotQueryError], reason: str) -> None:
    backend = make_backend(query_timeout_ms=100)
    backend.append_actions(ACTIONS.name, [], WINDOW)
    _fault(standin, table=_table(backend, ACTIONS), **fault)
    with pytest.raises(error, match=reason.replace("(", r"\(")) as raised:
        backend.read_histories(ACTIONS.name, [1, 2], WINDOW)
    assert raised.value.table == _table(backend, ACTIONS)
    assert '"actor" IN (1, 2) AND "timestamp" > 0 AND "timestamp" <= 10000000000000' in raised.value.sql


def test_client_side_timeout(make_backend: BackendFactory, standin: PinotStandIn) -> None:
    backend = make_backend(http_timeout_s=0.2, query_timeout_ms=5000)
    _fault(standin, kind="slow", table=_table(backend, PROFILE), delay_ms=1000)
    with pytest.raises(PinotTimeoutError, match="no answer from the broker in time"):
        backend.read_latest(PROFILE.name, ["k"])


def test_missing_table(make_backend: BackendFactory) -> None:
    backend = make_backend(create=False)
    with pytest.raises(PinotTableMissingError, match=r"failed \(Pinot error 190\): 190: TableDoesNotExistError"):
        backend.read_histories(ACTIONS.name, [1], WINDOW)


def test_unreachable_services(make_backend: BackendFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        backend = make_backend(create=False, broker_url=closed, controller_url=closed)
        with pytest.raises(PinotConnectionError, match="cannot reach the Pinot broker for table"):
            backend.read_latest(PROFILE.name, ["k"])
        with pytest.raises(PinotConnectionError, match=r"cannot reach the Pinot controller \(GET /schemas/"):
            backend.create_tables([PROFILE])


def test_controller_refusals_are_schema_errors(make_backend: BackendFactory) -> None:
    backend = make_backend()
    retyped = TableSpec(PROFILE.name, "latest", columns=(("industry", "Int64"), ("score", "Int64")))
    with pytest.raises(PinotSchemaError, match="answered 400: New schema: .* is not backward-compatible"):
        backend.create_tables([retyped])
    with pytest.raises(PinotSchemaError, match=r"feature 'm' has Feast type Map; PinotOnlineStore supports"):
        backend.create_tables([TableSpec("p_map", "latest", columns=(("m", "Map"),))])
    with pytest.raises(PinotSchemaError, match="cannot name a Pinot table"):
        backend.create_tables([TableSpec("p__double", "latest")])


def test_writes_that_never_become_visible_raise(make_backend: BackendFactory, standin: PinotStandIn) -> None:
    backend = make_backend(ingestion_timeout_s=1.0)
    with pytest.raises(PinotWriteError, match="1 keys written to .* did not become queryable within 1.0 s"):
        backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x", "score": "not a number"})])
    dropped = httpx.get(f"{standin.controller_url}/__standin__/tables/{_table(backend, PROFILE)}").json()["dropped"]
    assert dropped == ["RecordError: cannot convert 'not a number' to LONG for column score"]
    with pytest.raises(PinotWriteError, match="a value of 513 characters exceeds maxLength 512"):
        backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x" * 513, "score": 1})])


def test_unreachable_kafka(make_backend: BackendFactory) -> None:
    backend = make_backend(create=False, kafka_bootstrap_servers="127.0.0.1:1", write_timeout_s=1.0)
    with pytest.raises(PinotWriteError, match="1 unacknowledged after 1.0 s"):
        backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x", "score": 1})])
    with pytest.raises(PinotConnectionError, match="no answer from 127.0.0.1:1 in 1.0 s"):
        backend.create_tables([PROFILE])


def test_creation_waits_for_routing_and_retries_a_lingering_view(
    timed_standin: Callable[[ControllerTiming], PinotStandIn], make_backend: BackendFactory  # stop servers last
) -> None:
    server = timed_standin(ControllerTiming(routing_delay_s=0.3, external_view_linger_s=0.3))
    backend = make_backend(server)  # returns once the broker routes: a read works at once
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]
    backend.drop_tables([PROFILE])
    backend.create_tables([PROFILE])  # 409 "External view ... still exists" is retried
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]
    slow = timed_standin(ControllerTiming(routing_delay_s=5))
    with pytest.raises(PinotSchemaError, match="does not route queries to it after 0.5 s"):
        make_backend(slow, ingestion_timeout_s=0.5)


def test_every_error_is_an_online_store_error() -> None:
    for error in (PinotConnectionError, PinotSchemaError, PinotQueryError, PinotTimeoutError, PinotWriteError):
        assert issubclass(error, OnlineStoreError)
