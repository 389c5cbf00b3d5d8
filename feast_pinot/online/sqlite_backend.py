"""The embedded backend: one SQLite file in WAL mode.

WAL lets one writer (the ingester, ``feast materialize``) and any number of
reader processes (``feast serve`` workers) use the file at once; each thread
gets its own connection because sqlite3 connections are not thread-safe.

An action log is two tables: the actions, and the ids of the actions trimmed
from it. Writes trim an actor's actions older than twice the retention, so a
read pinned anywhere within the retention before now (a backtest) still finds
its whole history; the per-actor cap is applied by reads only. A trimmed
action leaves its id behind, so a later copy of it is refused, as the offline
log refuses it (the first written copy of an ``action_id`` wins).
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
from feast_pinot.errors import OnlineStoreError, OnlineStoreUnavailableError, OnlineStoreValueError
from feast_pinot.online import json_values
from feast_pinot.online.backend import History, HistoryWindow, LatestRow, TableSpec

__all__ = ["SqliteBackend"]

_ORDER = "ts DESC, action_id ASC"  # the history order every backend shares
# Primary result codes (sqlite.org/rescode.html): another connection held the lock past busy_timeout_ms.
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _translated(exc: sqlite3.Error, what: str) -> OnlineStoreError:
    """The store's error for a driver error: a held lock is transient, a refused value is the data's fault."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11; 3.10 has only the message
    busy = (code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED) if code is not None else "locked" in str(exc)
    if isinstance(exc, sqlite3.OperationalError) and busy:
        return OnlineStoreUnavailableError(f"{what}: {exc}")
    if isinstance(exc, (sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError)):
        return OnlineStoreValueError(f"{what}: {exc}")
    return OnlineStoreError(f"{what}: {exc}")


class SqliteBackend:
    def __init__(self, path: Path, busy_timeout_ms: int = 30_000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._with_trimmed_ids: set[str] = set()  # action tables whose trimmed-ids table is known to exist

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
            raise _translated(exc, f"SQLite write to {self._path} failed") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translated(exc, f"SQLite read from {self._path} failed") from exc

    def create_tables(self, tables: Sequence[TableSpec]) -> None:
        with self._write() as conn:
            for table in tables:
                for statement in _ddl(table):
                    conn.execute(statement)

    def drop_tables(self, tables: Sequence[TableSpec]) -> None:
        with self._write() as conn:
            for table in tables:
                conn.execute(f"DROP TABLE IF EXISTS {_quote(table.name)}")
                if table.kind == "actions":
                    conn.execute(f"DROP TABLE IF EXISTS {_trimmed(table.name)}")

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
        insert = (  # ?1, the action_id: refused when stored, or trimmed and remembered
            f"INSERT OR IGNORE INTO {name} (action_id, actor, ts, verb, object, embedding, attributes) "
            "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_trimmed(table)} WHERE action_id = ?1)"
        )
        rows = [
            (a.action_id, a.actor, a.ts_ms, a.verb, a.object, _blob(a.embedding), a.attributes)
            for a in actions
        ]
        with self._write() as conn:
            if table not in self._with_trimmed_ids:  # a file applied before trimmed ids were kept has none
                conn.execute(_TRIMMED_DDL.format(_trimmed(table)))
            before = conn.total_changes
            conn.executemany(insert, rows)
            added = conn.total_changes - before
            _trim(conn, table, {a.actor for a in actions}, keep)
        self._with_trimmed_ids.add(table)
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
        _TRIMMED_DDL.format(_trimmed(table.name)),
    ]


_TRIMMED_DDL = "CREATE TABLE IF NOT EXISTS {} (action_id TEXT PRIMARY KEY) WITHOUT ROWID"


def _trimmed(table: str) -> str:
    """The table of the ids of the actions trimmed from action log ``table``."""
    return _quote(table + "__trimmed_ids")


def _blob(embedding: tuple[float, ...] | None) -> bytes | None:
    return None if embedding is None else np.asarray(embedding, dtype="<f4").tobytes()


def _trim(conn: sqlite3.Connection, table: str, actors: set[int | str], keep: HistoryWindow) -> None:
    """Move these actors' actions older than twice the retention out, keeping their ids.

    ``keep`` spans the retention up to now: what goes is what no read pinned
    within that retention can return (those reads reach back to
    ``keep.since_ms - retention``). The cap is left to reads: trimming by it
    would take actions from reads pinned before the newest ones.
    """
    horizon = keep.since_ms - (keep.until_ms - keep.since_ms)
    name = _quote(table)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS trim_actors (actor PRIMARY KEY)")
    conn.execute("DELETE FROM trim_actors")
    conn.executemany("INSERT OR IGNORE INTO trim_actors VALUES (?)", [(a,) for a in actors])
    old = f"FROM {name} WHERE actor IN (SELECT actor FROM trim_actors) AND ts <= ?"
    conn.execute(f"INSERT OR IGNORE INTO {_trimmed(table)} SELECT action_id {old}", (horizon,))
    conn.execute(f"DELETE {old}", (horizon,))


def _history(rows: list[tuple[Any, ...]]) -> History:
    if not rows:
        return History((), (), (), (), None)
    ids, ts, verbs, objects, blobs = zip(*rows)
    embeddings = None
    if blobs[0] is not None:
        flat = np.frombuffer(b"".join(blobs), dtype="<f4")
        embeddings = flat.reshape(len(rows), -1)
    return History(ids, ts, verbs, objects, embeddings)
