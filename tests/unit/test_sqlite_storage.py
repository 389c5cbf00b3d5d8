"""What the embedded file keeps: actions within twice the retention, and the ids of those trimmed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from feast_pinot.actions import Action
from feast_pinot.online.backend import HistoryWindow, TableSpec
from feast_pinot.online.sqlite_backend import SqliteBackend

LOG = TableSpec("log", "actions", actor_is_int=False, embedding_dim=0)


def _action(actor: int | str, ts: int) -> Action:
    return Action(f"{actor}-{ts}", actor, "view", "job:1", ts, None, json.dumps({}))


def _stored(path: Path) -> dict[object, list[int]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT actor, ts FROM log ORDER BY actor, ts").fetchall()
    found: dict[object, list[int]] = {}
    for actor, ts in rows:
        found.setdefault(actor, []).append(ts)
    return found


def _trimmed(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT action_id FROM log__trimmed_ids ORDER BY action_id")]


def test_one_batch_trims_each_actor_beyond_twice_the_retention_and_never_by_the_cap(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "online.db")
    backend.create_tables([LOG])
    keep = HistoryWindow(since_ms=1000, until_ms=1500, limit=2)  # retention 500: reads pinned back to 1000 need > 500
    batch = [_action(1, ts) for ts in (400, 500, 501, 900, 1200, 1400, 2000)]  # 2000: future, kept
    batch += [_action("1", ts) for ts in (90, 600)]  # a string actor is another actor
    batch += [_action(2, 700)]
    assert backend.append_actions(LOG.name, batch, keep) == len(batch)
    assert _stored(tmp_path / "online.db") == {1: [501, 900, 1200, 1400, 2000], 2: [700], "1": [600]}
    assert _trimmed(tmp_path / "online.db") == ["1-400", "1-500", "1-90"]
    again = [_action(1, 400), _action(2, 700), _action(3, 1400)]
    assert backend.append_actions(LOG.name, again, keep) == 1  # trimmed or stored: only actor 3's is new
    backend.close()


def test_drop_tables_drops_the_trimmed_ids_too(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "online.db")
    backend.create_tables([LOG])
    backend.append_actions(LOG.name, [_action(1, 10)], HistoryWindow(1000, 1500, 5))
    assert _trimmed(tmp_path / "online.db") == ["1-10"]
    backend.drop_tables([LOG])
    backend.create_tables([LOG])
    assert backend.append_actions(LOG.name, [_action(1, 10)], HistoryWindow(0, 100, 5)) == 1
    backend.close()


def test_trimming_leaves_actors_outside_the_batch_alone(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "online.db")
    backend.create_tables([LOG])
    backend.append_actions(LOG.name, [_action(3, 10), _action(3, 20)], HistoryWindow(0, 100, 5))
    backend.append_actions(LOG.name, [_action(4, 500)], HistoryWindow(since_ms=400, until_ms=500, limit=1))
    assert _stored(tmp_path / "online.db") == {3: [10, 20], 4: [500]}
    backend.close()


def test_a_file_applied_before_trimmed_ids_were_kept_is_written_as_is(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "online.db") as conn:  # the action table as c6a3435 created it
        conn.execute("CREATE TABLE log (action_id TEXT PRIMARY KEY, actor NOT NULL, ts INTEGER NOT NULL, "
                     "verb TEXT NOT NULL, object TEXT NOT NULL, embedding BLOB, attributes TEXT NOT NULL)")
        conn.execute("INSERT INTO log VALUES ('1-10', 1, 10, 'view', 'job:1', NULL, '{}')")
    backend = SqliteBackend(tmp_path / "online.db")
    assert backend.append_actions(LOG.name, [_action(1, 1400), _action(1, 10)], HistoryWindow(1000, 1500, 5)) == 1
    assert _stored(tmp_path / "online.db") == {1: [1400]}
    assert _trimmed(tmp_path / "online.db") == ["1-10"]
    backend.close()
