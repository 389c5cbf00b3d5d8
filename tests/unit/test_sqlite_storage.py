"""What the embedded file keeps: retention and the per-actor cap bound its size."""

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


def test_one_batch_trims_each_actor_by_retention_and_cap(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "online.db")
    backend.create_tables([LOG])
    keep = HistoryWindow(since_ms=100, until_ms=1000, limit=3)
    batch = [_action(1, ts) for ts in (50, 100, 200, 300, 400, 500, 2000)]  # 2000: future, kept
    batch += [_action("1", ts) for ts in (90, 600)]  # a string actor is another actor
    batch += [_action(2, 700)]
    assert backend.append_actions(LOG.name, batch, keep) == len(batch)
    assert _stored(tmp_path / "online.db") == {1: [300, 400, 500, 2000], 2: [700], "1": [600]}
    backend.close()


def test_trimming_leaves_actors_outside_the_batch_alone(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "online.db")
    backend.create_tables([LOG])
    backend.append_actions(LOG.name, [_action(3, 10), _action(3, 20)], HistoryWindow(0, 100, 5))
    backend.append_actions(LOG.name, [_action(4, 500)], HistoryWindow(since_ms=400, until_ms=1000, limit=1))
    assert _stored(tmp_path / "online.db") == {3: [10, 20], 4: [500]}
    backend.close()
