"""Pinot's failures become exceptions that name the table and the query; never an empty result.

Against the real Pinot, through the recording proxies of ``conftest.py``: errors
Pinot produces on its own (missing table, a type mismatch, refused schemas,
records it drops) are provoked for real; failures it cannot be made to produce
on cue (timeouts, partial results, cut connections, garbage) are injected by
the proxy into Pinot's real answers.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

import pytest

from feast_pinot.actions import Action
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
from tests.fixtures.pinot import pinot_settings
from tests.pinot.conftest import Proxied, named_with

PROFILE = TableSpec("p_profile", "latest", columns=(("industry", "String"), ("score", "Int64")))
ACTIONS = TableSpec("p_actions", "actions", actor_is_int=True)
WINDOW = HistoryWindow(0, 10**13, 10)
BackendFactory = Callable[..., PinotBackend]


@pytest.fixture
def make_backend(proxied: Proxied, pinot_prefix: str) -> BackendFactory:
    """``make(create=True, **overrides)``: a backend through the proxies, PROFILE and ACTIONS created."""

    def make(create: bool = True, **overrides: Any) -> PinotBackend:
        settings = pinot_settings(proxied.endpoints, pinot_prefix, **overrides)
        backend = PinotBackend(PinotOnlineStoreConfig(**settings))
        if create:
            backend.create_tables([PROFILE, ACTIONS])
        return backend

    return make


def _table(backend: PinotBackend, spec: TableSpec) -> str:
    return backend._layout.table(spec.name)


def _with_exception(code: int, message: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda answer: {**answer, "exceptions": [{"errorCode": code, "message": message}]}


def test_a_real_query_error_names_table_query_and_code(make_backend: BackendFactory) -> None:
    backend = make_backend()
    table = _table(backend, ACTIONS)
    with pytest.raises(PinotQueryError) as raised:  # an action log has no entity key column
        backend.read_latest(ACTIONS.name, ["k1"])
    assert type(raised.value) is PinotQueryError and raised.value.error_code == 710
    assert raised.value.table == table
    assert raised.value.sql == (f'SELECT * FROM "{table}" WHERE "feast_entity_key" IN (\'k1\') ORDER BY '
                                '"feast_entity_key", "feast_event_ms" DESC, "feast_write_id" DESC LIMIT 1')
    # Pinot 0.11 quotes the exception class; 1.x sends the bare message.
    assert re.match(
        re.escape(f"query on Pinot table '{table}' failed (Pinot error 710): 710: ")
        + r"(UnknownColumnError:\norg\.apache\.pinot\.spi\.exception\.BadQueryRequestException: )?"
        + re.escape("Unknown columnName 'feast_entity_key' found in the query"),
        str(raised.value),
    )
    assert str(raised.value).endswith(f"\n  query: {raised.value.sql}")


@pytest.mark.parametrize(
    ("edit", "error", "reason"),
    [
        (_with_exception(200, "QueryExecutionError:\nboom"), PinotQueryError, "200: QueryExecutionError:\nboom"),
        (_with_exception(250, "ExecutionTimeoutError"), PinotTimeoutError, "250: ExecutionTimeoutError"),
        (_with_exception(400, "BrokerTimeoutError"), PinotTimeoutError, "400: BrokerTimeoutError"),
        (
            lambda a: {
                **a,
                "numServersResponded": 0,
                "exceptions": [{"errorCode": 427, "message": "ServerNotResponding"}],
            },
            PinotPartialResultError,
            "only 0 of 1 servers responded (427: ServerNotResponding)",
        ),
        (lambda a: {**a, "numServersResponded": 0}, PinotPartialResultError, "only 0 of 1 servers responded"),
        (
            lambda a: {k: v for k, v in a.items() if k != "resultTable"},
            PinotQueryError,
            "no resultTable although servers were queried",
        ),
    ],
)
def test_timeouts_partial_and_incomplete_answers_raise(
    make_backend: BackendFactory,
    proxied: Proxied,
    edit: Callable[[dict[str, Any]], dict[str, Any]],
    error: type[PinotQueryError],
    reason: str,
) -> None:
    backend = make_backend()
    # Pinot 0.11 answers alone (no server queried) while a table is empty: give it a row.
    backend.append_actions(ACTIONS.name, [Action("a1", 1, "view", "job:1", 5, None, "{}")], WINDOW)
    proxied.broker.inject(_table(backend, ACTIONS), edit=edit)
    with pytest.raises(error, match=re.escape(reason)) as raised:
        backend.read_histories(ACTIONS.name, [1, 2], WINDOW)
    assert raised.value.table == _table(backend, ACTIONS)
    assert '"actor" IN (1, 2) AND "timestamp" > 0 AND "timestamp" <= 10000000000000' in raised.value.sql


def test_client_side_timeout(make_backend: BackendFactory, proxied: Proxied) -> None:
    backend = make_backend(http_timeout_s=0.2, query_timeout_ms=5000)
    proxied.broker.inject(_table(backend, PROFILE), delay_s=1.0)
    with pytest.raises(PinotTimeoutError, match="no answer from the broker in time"):
        backend.read_latest(PROFILE.name, ["k"])


def test_a_cut_connection_and_a_garbage_answer(make_backend: BackendFactory, proxied: Proxied) -> None:
    backend = make_backend()
    table = _table(backend, PROFILE)
    proxied.broker.inject(table, cut=True)
    with pytest.raises(PinotConnectionError, match=f"cannot reach the Pinot broker for table '{table}'"):
        backend.read_latest(PROFILE.name, ["k"])
    proxied.broker.inject(table, body=b"<html>502 Bad Gateway</html>", status=502)
    with pytest.raises(PinotQueryError, match="the broker sent no JSON"):
        backend.read_latest(PROFILE.name, ["k"])
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]  # faults used up: Pinot answers again


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
        with pytest.raises(PinotConnectionError, match=r"cannot reach the Pinot controller \(GET /version\)"):
            backend.create_tables([PROFILE])


def test_controller_refusals_are_schema_errors(make_backend: BackendFactory) -> None:
    backend = make_backend()
    retyped = TableSpec(PROFILE.name, "latest", columns=(("industry", "Int64"), ("score", "Int64")))
    with pytest.raises(PinotSchemaError, match=r"POST /schemas answered 400: .*backward.compatible"):
        backend.create_tables([retyped])
    for name in ("feast_x", "bad-name", "ünï"):
        with pytest.raises(PinotSchemaError, match=rf"feature {name!r}: Pinot column names here are letters"):
            backend.create_tables([TableSpec("p_names", "latest", columns=((name, "Int64"),))])


def test_writes_pinot_drops_never_become_visible(make_backend: BackendFactory) -> None:
    backend = make_backend(ingestion_timeout_s=1.0)
    with pytest.raises(PinotWriteError, match=r"waited 1.0 s for 1 keys written to '.*' to become queryable; "
                       r"Pinot's last answer: not there yet \(Pinot may have rejected the records"):
        backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x", "score": "not a number"})])
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]
    with pytest.raises(PinotWriteError, match="a value of 513 characters exceeds maxLength 512"):
        backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x" * 513, "score": 1})])


def test_unreachable_kafka(make_backend: BackendFactory) -> None:
    make_backend()
    backend = make_backend(create=False, kafka_bootstrap_servers="127.0.0.1:1", write_timeout_s=1.0)
    with pytest.raises(PinotWriteError, match="1 unacknowledged after 1.0 s"):
        backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x", "score": 1})])
    with pytest.raises(PinotConnectionError,
                       match=r"cannot create Kafka topic '.*_p_more': no answer from 127.0.0.1:1 in 1.0 s"):
        backend.create_tables([TableSpec("p_more", "latest")])


def test_recreation_right_after_a_drop_and_a_lingering_external_view(
    make_backend: BackendFactory, proxied: Proxied
) -> None:
    backend = make_backend()  # returns once the broker routes: a read works at once
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]
    backend.drop_tables([PROFILE])
    backend.create_tables([PROFILE])  # whatever Pinot answers right after a delete
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]
    backend.drop_tables([PROFILE])
    table = _table(backend, PROFILE)
    lingering = f'{{"code": 409, "error": "External view for {table}_REALTIME still exists."}}'.encode()
    proxied.controller.inject(f'^POST /tables .*"tableName": ?"{table}"', times=2, status=409, body=lingering)
    start = len(proxied.controller.requests)
    backend.create_tables([PROFILE])  # retried until Pinot takes it
    posts = [r.path for r in proxied.controller.since(start) if r.method == "POST"]
    assert posts == ["/schemas", "/tables", "/tables", "/tables"]
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]


def test_a_table_the_broker_never_routes(make_backend: BackendFactory, proxied: Proxied, pinot_prefix: str) -> None:
    proxied.broker.inject(pinot_prefix, times=None, edit=_with_exception(410, "BrokerResourceMissingError"))
    with pytest.raises(PinotSchemaError, match=r"waited 0.5 s for table '.*_p_profile' to be routed by the broker "
                       r"\(it was created\); Pinot's last answer: .*\(Pinot error 410\): 410: BrokerResource"):
        make_backend(ingestion_timeout_s=0.5)
    proxied.broker.clear()
    assert named_with(proxied.endpoints, pinot_prefix) == ([], [], [])  # the apply took back what it created


@pytest.mark.parametrize(("code", "name"), [(400, "BrokerTimeoutError"), (427, "ServerNotRespondingError")])
def test_a_new_table_timing_out_at_first_is_probed_again(
    make_backend: BackendFactory, proxied: Proxied, pinot_prefix: str, code: int, name: str
) -> None:
    proxied.broker.inject(pinot_prefix, times=2, edit=_with_exception(code, name))
    backend = make_backend()  # what a loaded machine answers right after creation
    assert backend.read_latest(PROFILE.name, ["k"]) == [None]


def test_every_error_is_an_online_store_error() -> None:
    for error in (PinotConnectionError, PinotSchemaError, PinotQueryError, PinotTimeoutError, PinotWriteError):
        assert issubclass(error, OnlineStoreError)


@pytest.mark.parametrize(("code", "name"), [(427, "ServerNotRespondingError"), (305, "SegmentUnavailable"),
                                            (400, "BrokerTimeoutError")])
def test_the_wait_for_ingestion_asks_again_on_a_busy_cluster(
    make_backend: BackendFactory, proxied: Proxied, code: int, name: str
) -> None:
    """What ``scripts/demo.sh --pinot`` met on a loaded machine: 427 while waiting for a materialized row."""
    backend = make_backend()
    table = _table(backend, PROFILE)

    def busy(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "numServersResponded": 0, "exceptions": [{"errorCode": code, "message": name}]}

    proxied.broker.inject(rf"feast_write_id\W+FROM\W+{table}\b", times=3, edit=busy)
    backend.write_latest(PROFILE.name, [LatestRow("k", 1, {"industry": "x", "score": 1})])
    assert backend.read_latest(PROFILE.name, ["k"]) == [LatestRow("k", 1, {"industry": "x", "score": 1})]
    proxied.broker.inject(rf"feast_write_id\W+FROM\W+{table}\b", times=None, edit=busy)
    other = make_backend(create=False, ingestion_timeout_s=0.5)
    with pytest.raises(PinotWriteError, match=rf"waited 0.5 s for 1 keys written to '{table}' to become queryable; "
                       rf"Pinot's last answer: .*\(Pinot error {code}\)"):
        other.write_latest(PROFILE.name, [LatestRow("k2", 1, {"industry": "y", "score": 2})])
