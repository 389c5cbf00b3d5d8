"""The Pinot implementation of :class:`~feast_pinot.online.backend.OnlineBackend`.

Tables are created through the controller, written through Kafka and read
through the broker. Pinot ingests asynchronously: with ``wait_for_ingestion``
a write returns only once a query shows it (and raises if it does not within
``ingestion_timeout_s``); without it, a write returns when Kafka acknowledged it.

Reads are batched: one query per chunk of keys or actors, always with a
``LIMIT``; history reads always filter on time. A history query's ``LIMIT`` is
actors x cap; when it is reached, the actors it may have cut short are asked
again, so the per-actor cap never hides a lighter actor's actions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from feast_pinot.actions import Action
from feast_pinot.online.backend import History, HistoryWindow, LatestRow, TableSpec
from feast_pinot.online.pinot.broker import BrokerClient, Result
from feast_pinot.online.pinot.controller import ControllerClient
from feast_pinot.online.pinot.errors import (
    PinotError,
    PinotPartialResultError,
    PinotQueryError,
    PinotSchemaError,
    PinotTimeoutError,
    PinotWriteError,
)
from feast_pinot.online.pinot.kafka import KafkaWriter
from feast_pinot.online.pinot.layout import ACTION_COLUMNS, EMPTY, EVENT_MS, KEY, PRESENT, WRITE_ID, Layout
from feast_pinot.online.pinot.records import action_records, decode_history, decode_latest, latest_record
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig
from feast_pinot.online.pinot.sql import MAX_LIMIT, Condition, Query, select

__all__ = ["PinotBackend"]

T = TypeVar("T")
_KEY_CHUNK = 1000  # values per IN list: far below any broker limit, small enough to parse fast
_HISTORY_ROWS = 10_000  # rows per history query: actors per chunk = this / cap
_HISTORY_ORDER = (("actor", False), ("timestamp", True), ("action_id", False))
_LATEST_ORDER = ((KEY, False), (EVENT_MS, True), (WRITE_ID, True))
# Normal right after creation, or while a loaded cluster catches up: the broker not yet told of the
# table (190, seen on Pinot 0.11 on a loaded machine), the server not yet holding it (230, seen when a
# table is re-created right after a delete), segments unavailable (305), segments not yet
# on their server (235, seen on Pinot 0.11 when a table is re-created right after a delete), no
# routing yet (410), a query timing out before scatter (400) or a server not answering yet (427,
# seen waiting for ingestion in `scripts/demo.sh --pinot`): every wait asks again.
_NOT_YET = {190, 230, 235, 305, 400, 410, 427}


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _json(record: dict[str, Any]) -> bytes:
    return json.dumps(record, allow_nan=False, separators=(",", ":")).encode()


class PinotBackend:
    """An :class:`~feast_pinot.online.backend.OnlineBackend` on Pinot; cheap to build, connects on first use."""

    def __init__(self, config: PinotOnlineStoreConfig) -> None:
        self._config = config
        self._layout = Layout(config)
        self._controller = ControllerClient(config)
        self._broker = BrokerClient(config)
        self._kafka = KafkaWriter(config)
        self._json_columns: dict[str, frozenset[str]] = {}

    # -- tables -------------------------------------------------------------------

    def create_tables(self, tables: Sequence[TableSpec]) -> None:
        """All or nothing: every table is planned (names, types, limits) before anything is created,
        and a failure part-way removes the topics, schemas and tables this call created."""
        version = self._controller.version()
        plans = [_Plan(self._layout.table(spec.name), spec, self._layout.schema(spec),
                       self._layout.table_config(spec, version)) for spec in tables]
        _distinct_names(plans)
        undo: list[Callable[[], object]] = []
        try:
            for plan in plans:
                self._create(plan, undo)
        except BaseException:
            for step in reversed(undo):
                with contextlib.suppress(PinotError):  # the first failure is the one to report
                    step()
            raise

    def _create(self, plan: _Plan, undo: list[Callable[[], object]]) -> None:
        if self._kafka.ensure_topic(plan.name) == "created":
            undo.append(functools.partial(self._kafka.delete_topic, plan.name))
        if self._controller.ensure_schema(plan.schema) == "created":
            undo.append(functools.partial(self._controller.delete_schema, plan.name))
        self._json_columns[plan.name] = _json_columns(plan.schema)
        if self._controller.ensure_table(plan.config) == "created":
            undo.append(functools.partial(self._drop, plan.name))
            self._wait_routable(plan.name, plan.spec)

    def _drop(self, name: str) -> None:
        if self._controller.delete_table(name) == "deleted":
            self._controller.wait_table_gone(name)

    def _wait_routable(self, name: str, spec: TableSpec) -> None:
        probe = select(name, [KEY if spec.kind == "latest" else "action_id"], [], limit=1)

        def routable() -> bool:
            self._broker.execute(probe)
            return True

        self._wait(routable, f"table '{name}' to be routed by the broker (it was created)", PinotSchemaError)

    def drop_tables(self, tables: Sequence[TableSpec]) -> None:
        names = [self._layout.table(spec.name) for spec in tables]
        deleted = [name for name in names if self._controller.delete_table(name) == "deleted"]
        for name in names:
            # Servers drop a deleted table asynchronously; until they have, their consumers keep
            # fetching its topic (which Kafka's topic auto-creation brings back once deleted) and
            # Pinot refuses a new table of that name (409).
            if name in deleted:
                self._controller.wait_table_gone(name)
            self._controller.delete_schema(name)
            self._kafka.delete_topic(name)
            self._json_columns.pop(name, None)

    def _json_columns_of(self, name: str) -> frozenset[str]:
        """The features of ``name`` held as JSON, from its schema (asked once per table)."""
        if name not in self._json_columns:
            schema = self._controller.schema(name)
            if schema is None:
                raise PinotSchemaError(f"Pinot has no schema '{name}': run feast apply first")
            self._json_columns[name] = _json_columns(schema)
        return self._json_columns[name]

    # -- latest values --------------------------------------------------------------

    def write_latest(self, table: str, rows: Sequence[LatestRow]) -> None:
        if not rows:
            return
        name = self._layout.table(table)
        write_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # orders writes with equal event times
        length, as_json = self._config.max_string_length, self._json_columns_of(name)
        records = [(r.key.encode(), _json(latest_record(r, write_id, length, as_json))) for r in rows]
        self._kafka.produce(name, records)
        if self._config.wait_for_ingestion:
            newest: dict[str, int] = {}
            for row in rows:
                newest[row.key] = max(newest.get(row.key, row.event_ms), row.event_ms)
            self._wait_visible(lambda: self._latest_visible(name, newest, write_id),
                               f"{len(newest)} keys written to '{name}'")

    def _latest_visible(self, name: str, pending: dict[str, int], write_id: str) -> bool:
        """Drop the keys now showing this write (or a newer one) from ``pending``; True when none is left."""
        for row in self._rows_by_key(name, list(pending), [KEY, EVENT_MS, WRITE_ID]):
            event_ms = pending.get(row[KEY])
            if event_ms is not None and (row[EVENT_MS], row[WRITE_ID] or "") >= (event_ms, write_id):
                del pending[row[KEY]]
        return not pending

    def read_latest(self, table: str, keys: Sequence[str]) -> list[LatestRow | None]:
        if not keys:
            return []
        name = self._layout.table(table)
        found: dict[str, LatestRow] = {}
        for row, types in self._typed_rows_by_key(name, list(dict.fromkeys(keys))):
            if row[KEY] not in found:  # a key's first row is its newest
                found[row[KEY]] = decode_latest(row, types)
        return [found.get(key) for key in keys]

    def _rows_by_key(self, name: str, keys: list[str], columns: list[str]) -> list[dict[str, Any]]:
        return [row for row, _ in self._typed_rows_by_key(name, keys, columns)]

    def _typed_rows_by_key(
        self, name: str, keys: list[str], columns: list[str] | None = None
    ) -> list[tuple[dict[str, Any], dict[str, str]]]:
        """Rows of the given keys, each key's newest first.

        An upsert table shows one row per key, but Pinot may briefly show two
        (upsert consistency NONE), or keep two for good when a producer did not
        key by the primary key. Ordered by key and newest first, every key in a
        result has its newest row there; when the LIMIT is reached, keys not seen
        are asked again.
        """
        out: list[tuple[dict[str, Any], dict[str, str]]] = []
        for chunk in _chunks(keys, _KEY_CHUNK):
            pending = list(chunk)
            while pending:
                query = select(name, columns, [Condition(KEY, "IN", pending)], len(pending), order_by=_LATEST_ORDER)
                result = self._broker.execute(query)
                out += [(row, result.types) for row in result.rows]
                seen = {row[KEY] for row in result.rows}
                pending = [k for k in pending if k not in seen] if len(result.rows) == len(pending) else []
        return out

    # -- actions ----------------------------------------------------------------------

    def append_actions(self, table: str, actions: Sequence[Action], keep: HistoryWindow) -> int:
        name = self._layout.table(table)
        records = action_records(actions, self._config.max_string_length)  # all checked before any query
        unique: dict[str, tuple[Action, dict[str, Any]]] = {}  # the first occurrence of an id wins
        for action, record in zip(actions, records):
            unique.setdefault(action.action_id, (action, record))
        stored = self._stored_action_ids(name, list(unique))  # any time: the first copy written wins
        new = [(a, record) for aid, (a, record) in unique.items() if aid not in stored]
        if not new:
            return 0
        self._kafka.produce(name, [(str(a.actor).encode(), _json(record)) for a, record in new])
        if self._config.wait_for_ingestion:
            pending = {a.action_id for a, _ in new}
            since = min(a.ts_ms for a, _ in new) - 1
            self._wait_visible(lambda: self._actions_visible(name, pending, since),
                               f"{len(new)} actions appended to '{name}'")
        return len(new)

    def _actions_visible(self, name: str, pending: set[str], since_ms: int) -> bool:
        """Drop the ids now stored from ``pending``; True when none is left."""
        pending -= self._stored_action_ids(name, list(pending), since_ms)
        return not pending

    def _stored_action_ids(self, name: str, ids: list[str], since_ms: int | None = None) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids, _KEY_CHUNK):
            where = [Condition("action_id", "IN", chunk)]
            where += [] if since_ms is None else [Condition("timestamp", ">", since_ms)]
            answer = self._broker.execute(select(name, ["action_id"], where, len(chunk)))
            found |= {row["action_id"] for row in answer.rows}
        return found

    def read_histories(self, table: str, actors: Sequence[int | str], window: HistoryWindow) -> list[History]:
        if not actors:
            return []
        name = self._layout.table(table)
        rows: dict[int | str, list[dict[str, Any]]] = {}
        per_query = max(1, _HISTORY_ROWS // window.limit)
        for chunk in _chunks(list(dict.fromkeys(actors)), per_query):
            rows.update(self._history_rows(name, list(chunk), window))
        return [decode_history(rows.get(actor, [])) for actor in actors]

    def _history_rows(
        self, name: str, actors: list[int | str], window: HistoryWindow
    ) -> dict[int | str, list[dict[str, Any]]]:
        complete: dict[int | str, list[dict[str, Any]]] = {}
        pending = actors
        while pending:
            limit = min(len(pending) * window.limit, MAX_LIMIT)
            result = self._broker.execute(self._history_query(name, pending, window, limit))
            grouped = _group_by_actor(result)
            if len(result.rows) < limit:  # nothing was cut: every actor is complete
                complete.update({a: grouped.get(a, [])[: window.limit] for a in pending})
                break
            # Ordered by actor: every actor seen before the last one came whole; the last
            # one is whole if it reached the cap. Unseen actors may have been cut: ask again.
            last = result.rows[-1]["actor"]
            for actor, actor_rows in grouped.items():
                if actor != last or len(actor_rows) >= window.limit:
                    complete[actor] = actor_rows[: window.limit]
            pending = [a for a in pending if a not in complete]
        return complete

    @staticmethod
    def _history_query(name: str, actors: list[int | str], window: HistoryWindow, limit: int) -> Query:
        where = [
            Condition("actor", "IN", actors),
            Condition("timestamp", ">", window.since_ms),
            Condition("timestamp", "<=", window.until_ms),
        ]
        return select(name, list(ACTION_COLUMNS), where, limit, order_by=_HISTORY_ORDER)

    # -- plumbing -----------------------------------------------------------------------

    def _wait(self, done: Callable[[], bool], what: str, error: Callable[[str], PinotError]) -> None:
        """Ask ``done()`` until it holds; Pinot's "not yet" answers count as not yet, until the deadline.

        On a busy cluster a just-created table or a just-written row can be
        answered by 190, 235, 305, 410, 427 or a timeout for a while; each is
        asked again. Past ``ingestion_timeout_s``, ``error`` says what was
        waited for and Pinot's last answer.
        """
        deadline = time.monotonic() + self._config.ingestion_timeout_s
        pause, last = 0.002, "no answer yet"
        while True:
            try:
                if done():
                    return
                last = "not there yet"
            except PinotQueryError as exc:
                if not _not_yet(exc):
                    raise
                last = str(exc).split("\n", 1)[0]
            if time.monotonic() > deadline:
                raise error(f"waited {self._config.ingestion_timeout_s} s for {what}; Pinot's last answer: {last}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _wait_visible(self, done: Callable[[], bool], what: str) -> None:
        self._wait(done, f"{what} to become queryable", lambda message: PinotWriteError(
            f"{message} (Pinot may have rejected the records: see its servers' ingestion errors)"))

    def close(self) -> None:
        self._kafka.close()
        self._broker.close()
        self._controller.close()


@dataclass(frozen=True)
class _Plan:
    """One table of an apply, checked in full before anything is created."""

    name: str
    spec: TableSpec
    schema: dict[str, Any]
    config: dict[str, Any]


def _distinct_names(plans: Sequence[_Plan]) -> None:
    seen: dict[str, str] = {}
    for plan in plans:
        other = seen.setdefault(plan.name, plan.spec.name)
        if other != plan.spec.name:
            raise PinotSchemaError(f"'{other}' and '{plan.spec.name}' would both be Pinot table '{plan.name}'")


def _json_columns(schema: Mapping[str, Any]) -> frozenset[str]:
    fields = schema.get("dimensionFieldSpecs", [])
    return frozenset(f["name"] for f in fields if f.get("dataType") == "JSON") - {PRESENT, EMPTY}


def _not_yet(exc: PinotQueryError) -> bool:
    """An answer a busy or just-changed cluster gives for a while: worth asking again in a wait."""
    return isinstance(exc, (PinotTimeoutError, PinotPartialResultError)) or exc.error_code in _NOT_YET


def _group_by_actor(result: Result) -> dict[int | str, list[dict[str, Any]]]:
    grouped: dict[int | str, list[dict[str, Any]]] = {}
    for row in result.rows:
        grouped.setdefault(row["actor"], []).append(row)
    return grouped
