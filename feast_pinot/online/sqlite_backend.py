"""The embedded backend: one SQLite file in WAL mode.

WAL lets one writer (the ingester, ``feast materialize``) and any number of
reader processes (``feast serve`` workers) use the file at once; each thread
gets its own connection because sqlite3 connections are not thread-safe.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from feast_pinot.actions import Action
from feast_pinot.errors import OnlineStoreError
from feast_pinot.online import json_values
from feast_pinot.online.backend import History, HistoryWindow, LatestRow, TableSpec

__all__ = ["SqliteBackend"]

_ORDER = "ts DESC, action_id ASC"  # the history order every backend shares


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteBackend:
    def __init__(self, path: Path, busy_timeout_ms: int = 30_000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise OnlineStoreError(f"SQLite write to {self._path} failed: {exc}") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"SQLite read from {self._path} failed: {exc}") from exc

    def create_tables(self, tables: Sequence[TableSpec]) -> None:
        with self._write() as conn:
            for table in tables:
                for statement in _ddl(table):
                    conn.execute(statement)

    def drop_tables(self, tables: Sequence[TableSpec]) -> None:
        with self._write() as conn:
            for table in tables:
                conn.execute(f"DROP TABLE IF EXISTS {_quote(table.name)}")

    def write_latest(self, table: str, rows: Sequence[LatestRow]) -> None:
        sql = (
            f"INSERT INTO {_quote(table)} (entity_key, event_ms, payload) VALUES (?, ?, ?) "
            "ON CONFLICT(entity_key) DO UPDATE SET event_ms = excluded.event_ms, "
            "payload = excluded.payload WHERE excluded.event_ms >= event_ms"
        )
        params = [(r.key, r.event_ms, _dump(r.values)) for r in rows]
        with self._write() as conn:
            conn.executemany(sql, params)

    def read_latest(self, table: str, keys: Sequence[str]) -> list[LatestRow | None]:
        found: dict[str, LatestRow] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # stay below SQLite's variable limit
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT entity_key, event_ms, payload FROM {_quote(table)} "
                f"WHERE entity_key IN ({marks})"
            )
            for key, event_ms, payload in self._read(sql, chunk):
                found[key] = LatestRow(key, event_ms, _load(payload))
        return [found.get(key) for key in keys]

    def append_actions(self, table: str, actions: Sequence[Action], keep: HistoryWindow) -> int:
        name = _quote(table)
        insert = (
            f"INSERT OR IGNORE INTO {name} "
            "(action_id, actor, ts, verb, object, embedding, attributes) VALUES (?,?,?,?,?,?,?)"
        )
        rows = [
            (a.action_id, a.actor, a.ts_ms, a.verb, a.object, _blob(a.embedding), a.attributes)
            for a in actions
        ]
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(insert, rows)
            added = conn.total_changes - before
            _trim(conn, name, {a.actor for a in actions}, keep)
        return added

    def read_histories(
        self, table: str, actors: Sequence[int | str], window: HistoryWindow
    ) -> list[History]:
        sql = (
            f"SELECT action_id, ts, verb, object, embedding FROM {_quote(table)} "
            f"WHERE actor = ? AND ts > ? AND ts <= ? ORDER BY {_ORDER} LIMIT ?"
        )
        return [
            _history(self._read(sql, (actor, window.since_ms, window.until_ms, window.limit)))
            for actor in actors
        ]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _dump(values: dict[str, Any]) -> str:
    try:
        return json_values.dumps(values)
    except (TypeError, ValueError) as exc:
        raise OnlineStoreError(f"feature values cannot be stored: {exc}") from exc


def _load(payload: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json_values.loads(payload)
    return loaded


def _ddl(table: TableSpec) -> list[str]:
    name = _quote(table.name)
    if table.kind == "latest":
        return [
            f"CREATE TABLE IF NOT EXISTS {name} (entity_key TEXT PRIMARY KEY, "
            "event_ms INTEGER NOT NULL, payload TEXT NOT NULL)"
        ]
    # ``actor`` has no declared type so SQLite stores ints and strings as given.
    return [
        f"CREATE TABLE IF NOT EXISTS {name} (action_id TEXT PRIMARY KEY, actor NOT NULL, "
        "ts INTEGER NOT NULL, verb TEXT NOT NULL, object TEXT NOT NULL, embedding BLOB, "
        "attributes TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {_quote(table.name + '_actor_ts')} ON {name} (actor, ts)",
    ]


def _blob(embedding: tuple[float, ...] | None) -> bytes | None:
    return None if embedding is None else np.asarray(embedding, dtype="<f4").tobytes()


def _trim(conn: sqlite3.Connection, name: str, actors: set[int | str], keep: HistoryWindow) -> None:
    """Drop what retention and the per-actor cap no longer keep, for these actors.

    One statement per batch finds the few actors over the cap, so a batch of
    thousands of actors costs one indexed scan instead of two deletes each.
    CROSS JOIN fixes the loop order: SQLite would otherwise scan the whole
    (actor, ts) index, a cost that grows with the table instead of the batch.
    """
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS trim_actors (actor PRIMARY KEY)")
    conn.execute("DELETE FROM trim_actors")
    conn.executemany("INSERT OR IGNORE INTO trim_actors VALUES (?)", [(a,) for a in actors])
    conn.execute(
        f"DELETE FROM {name} WHERE actor IN (SELECT actor FROM trim_actors) AND ts <= ?",
        (keep.since_ms,),
    )
    over = conn.execute(
        f"SELECT actor FROM trim_actors CROSS JOIN {name} AS t USING (actor) WHERE t.ts <= ? "
        "GROUP BY actor HAVING COUNT(*) > ?",
        (keep.until_ms, keep.limit),
    ).fetchall()
    for (actor,) in over:
        conn.execute(
            f"DELETE FROM {name} WHERE action_id IN (SELECT action_id FROM {name} "
            f"WHERE actor = ? AND ts <= ? ORDER BY {_ORDER} LIMIT -1 OFFSET ?)",
            (actor, keep.until_ms, keep.limit),
        )


def _history(rows: list[tuple[Any, ...]]) -> History:
    if not rows:
        return History((), (), (), (), None)
    ids, ts, verbs, objects, blobs = zip(*rows)
    embeddings = None
    if blobs[0] is not None:
        flat = np.frombuffer(b"".join(blobs), dtype="<f4")
        embeddings = flat.reshape(len(rows), -1)
    return History(ids, ts, verbs, objects, embeddings)
