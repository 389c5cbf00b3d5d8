"""Hostile values are data on every read and write path: they never change a query.

A small repo keyed by a STRING entity puts quotes, backslashes, SQL keywords,
comments and format markers into entity keys, feature values, verbs, objects and
action ids, and sends them through materialize, ``write_to_online_store``,
``push_actions`` and ``get_online_features``. Every value must come back exactly,
and every query the broker received must have one of the client's fixed shapes
once its literals are blanked out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlglot
import yaml
from feast import FeatureStore
from sqlglot import exp

from feast_pinot import ActionValidationError, push_actions
from feast_pinot.clock import frozen, now_ms
from feast_pinot.online.pinot.sql import Condition, select
from tests.fixtures.pinot import pinot_settings
from tests.integration.conftest import run_feast
from tests.pinot.conftest import Proxied

HOSTILE = [  # no "''": Pinot's SQL cannot match it, so ids and actors holding it are refused (test below)
    "o'brien", 'say "hi"', "back\\slash\\", "\\'", "x' OR '1'='1", "a'); DROP TABLE t; --",
    "-- comment", "/* c */ x", "*", "%(p0)s", "50% %s %%", "SELECT * FROM t", "timestamp", "' --",
    "tab\tnew\nline", "ünïcødé ✓",
]
NOW = now_ms()
FEATURES = '''
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import String
from feast_pinot import action_history, action_log

HOSTILE = {hostile!r}
user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING)
profile = FeatureView(
    name="profile", entities=[user], ttl=timedelta(days=3650),
    schema=[Field(name="user_id", dtype=String), Field(name="note", dtype=String)],
    source=FileSource(name="profile_source", path="data/profile.parquet", timestamp_field="event_timestamp"),
)
events = action_log("events", actor=user, verbs=HOSTILE, path="data/events", max_actions=50)
recent_events = action_history("recent_events", events)
'''
SHAPES = [  # every query the client sends, literals blanked
    'SELECT "feast_entity_key" FROM "{p}sec_profile" LIMIT ?',
    'SELECT "action_id" FROM "{p}sec_events" LIMIT ?',
    'SELECT "feast_entity_key", "feast_event_ms", "feast_write_id" FROM "{p}sec_profile" '
    'WHERE "feast_entity_key" IN (?) ORDER BY "feast_entity_key", "feast_event_ms" DESC, "feast_write_id" DESC LIMIT ?',
    'SELECT * FROM "{p}sec_profile" WHERE "feast_entity_key" IN (?) '
    'ORDER BY "feast_entity_key", "feast_event_ms" DESC, "feast_write_id" DESC LIMIT ?',
    'SELECT "action_id" FROM "{p}sec_events" WHERE "action_id" IN (?) LIMIT ?',
    'SELECT "action_id" FROM "{p}sec_events" WHERE "action_id" IN (?) AND "timestamp" > ? LIMIT ?',
    'SELECT "actor", "action_id", "timestamp", "verb", "object", "objectEmbedding" FROM "{p}sec_events" '
    'WHERE "actor" IN (?) AND "timestamp" > ? AND "timestamp" <= ? '
    'ORDER BY "actor", "timestamp" DESC, "action_id" LIMIT ?',
]


def _shape(sql: str) -> str:
    """The query with every literal (and every IN list) replaced by ``?``."""

    def blank(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.In):
            return exp.In(this=node.this, expressions=[exp.Placeholder()])
        return exp.Placeholder() if isinstance(node, exp.Literal) else node

    return sqlglot.parse_one(sql).transform(blank).sql()


def _literals(sql: str) -> set[str]:
    return {lit.this for lit in sqlglot.parse_one(sql).find_all(exp.Literal) if lit.is_string}


def _repo(root: Path, settings: dict[str, Any]) -> FeatureStore:
    (root / "data").mkdir(parents=True)
    (root / "features.py").write_text(FEATURES.format(hostile=HOSTILE))
    config = {"project": "sec", "provider": "local", "registry": "data/registry.db",
              "online_store": settings,
              "offline_store": {"type": "feast_pinot.offline_store.ActionLogOfflineStore"},
              "entity_key_serialization_version": 3}
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    pd.DataFrame({"user_id": HOSTILE, "note": [f"old {h}" for h in HOSTILE],
                  "event_timestamp": pd.Timestamp(NOW - 86_400_000, unit="ms", tz="UTC")}
                 ).to_parquet(root / "data" / "profile.parquet")
    run_feast(root, "apply")
    return FeatureStore(repo_path=str(root))


def _action(i: int, user: str, verb: str) -> dict[str, Any]:
    return {"action_id": f"id:{user}:{verb}", "actor": user, "verb": verb, "object": f"obj:{user}",
            "timestamp": NOW - 1000 * (i + 1)}


def test_hostile_values_round_trip_and_never_change_a_query(
    tmp_path: Path, proxied: Proxied, pinot_prefix: str
) -> None:
    seen = len(proxied.broker.requests)
    store = _repo(tmp_path / "repo", pinot_settings(proxied.endpoints, pinot_prefix))
    with frozen(NOW):
        store.materialize(pd.Timestamp(NOW - 10 * 86_400_000, unit="ms", tz="UTC").to_pydatetime(),
                          pd.Timestamp(NOW, unit="ms", tz="UTC").to_pydatetime())
        store.write_to_online_store("profile", pd.DataFrame({
            "user_id": HOSTILE[::2], "note": [f"new {h}" for h in HOSTILE[::2]],
            "event_timestamp": pd.Timestamp(NOW - 1000, unit="ms", tz="UTC")}))
        # Each user acts with every hostile verb; user i's action i is pushed twice (a replay).
        pushed = [_action(i, user, verb) for user in HOSTILE for i, verb in enumerate(HOSTILE)]
        assert push_actions(store, "events", pushed + pushed[::len(HOSTILE) + 1]) == len(pushed) + len(HOSTILE)
        got = store.get_online_features(
            features=["profile:note", "recent_events:action_verbs", "recent_events:action_objects"],
            entity_rows=[{"user_id": user} for user in HOSTILE]).to_dict()
    assert got["user_id"] == HOSTILE
    assert got["note"] == [f"new {h}" if i % 2 == 0 else f"old {h}" for i, h in enumerate(HOSTILE)]
    assert got["action_verbs"] == [HOSTILE] * len(HOSTILE)  # newest first, each replayed action once
    assert got["action_objects"] == [[f"obj:{user}"] * len(HOSTILE) for user in HOSTILE]
    queries = [r.body["sql"] for r in proxied.broker.since(seen, pinot_prefix)]
    assert {_shape(q) for q in queries} == {_shape(s.format(p=pinot_prefix)) for s in SHAPES}
    literals = set().union(*(_literals(q) for q in queries))
    assert set(HOSTILE) <= literals  # the actors went into SQL, each as one whole literal
    assert {f"id:{user}:{HOSTILE[0]}" for user in HOSTILE} <= literals
    # Values Pinot would alter (cut at a NUL) or could not match ('') are refused, naming each action.
    refused = [{**_action(0, "nul\0user", HOSTILE[0]), "action_id": "nul-user"},
               {**_action(1, HOSTILE[1], HOSTILE[1]), "action_id": "it''s"},
               {**_action(2, "it''s", HOSTILE[2]), "action_id": "quoted-user"}]
    seen = len(proxied.broker.requests)
    with frozen(NOW), pytest.raises(ActionValidationError) as raised:
        push_actions(store, "events", refused)
    assert [(i, reason.split(":")[0]) for i, reason in raised.value.problems] == [
        (0, "column 'actor'"), (1, "column 'action_id'"), (2, "column 'actor'")]
    assert proxied.broker.since(seen, pinot_prefix) == []  # refused before any query or write


@pytest.mark.parametrize("value", HOSTILE)
def test_shapes_see_through_literals(value: str) -> None:
    """The shape check above would notice an escape: an escaped value is one literal."""
    query = select("t", ["a"], [Condition("a", "IN", [value, "b"]), Condition("b", ">", 1)], limit=3)
    assert _shape(query.sql) == 'SELECT "a" FROM "t" WHERE "a" IN (?) AND "b" > ? LIMIT ?'
    assert _literals(query.sql) == {value, "b"}
    if "'" not in value:
        return
    naive = f"SELECT \"a\" FROM \"t\" WHERE \"a\" IN ('{value}', 'b') AND \"b\" > 1 LIMIT 3"
    try:  # pasted unescaped, the value breaks out of its literal: another shape, or no query at all
        broken = _shape(naive) != _shape(query.sql) or _literals(naive) != {value, "b"}
    except sqlglot.errors.SqlglotError:
        broken = True
    assert broken
