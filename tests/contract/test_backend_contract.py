"""The storage contract, run against every online backend."""

from __future__ import annotations

import json

import numpy as np
import pytest

from feast_pinot.actions import Action
from feast_pinot.online.backend import HistoryWindow, LatestRow, OnlineBackend, TableSpec

LATEST = TableSpec("p_profile", "latest", columns=(("industry", "String"), ("score", "Float64")))
ACTIONS = TableSpec("p_actions", "actions", actor_is_int=True, embedding_dim=3)
TEXT_ACTIONS = TableSpec("p_text_actions", "actions", actor_is_int=False, embedding_dim=0)
LISTS = TableSpec("p_lists", "latest", columns=(
    ("names", "Array(String)"), ("counts", "Array(Int64)"), ("small", "Array(Int32)"), ("weights", "Array(Float32)"),
    ("scores", "Array(Float64)"), ("label", "String"), ("n", "Int32"), ("x", "Float64"), ("on", "Bool")))
WIDE = HistoryWindow(since_ms=0, until_ms=10**13, limit=1000)


def action(aid: str, actor: int | str, ts: int, verb: str = "view", emb: tuple | None = (0.5, -1.25, 3.0)) -> Action:
    return Action(aid, actor, verb, f"job:{aid}", ts, emb, json.dumps({"verbAttributes": {"s": aid}}))


@pytest.fixture
def tables(backend: OnlineBackend) -> OnlineBackend:
    backend.create_tables([LATEST, ACTIONS, TEXT_ACTIONS])
    return backend


def test_empty_and_missing_lists_read_back_as_written(backend: OnlineBackend) -> None:
    backend.create_tables([LISTS])
    empty = {"names": [], "counts": [], "small": [], "weights": [], "scores": [], "label": "", "n": 0, "x": 0.0,
             "on": False}
    full = {"names": ["a", ""], "counts": [2**40, -1], "small": [-(2**31)], "weights": [0.5, -2.0],
            "scores": [float("-inf"), 1e300], "label": "x", "n": 7, "x": 1.5, "on": True}
    missing = dict.fromkeys(empty)
    backend.write_latest(LISTS.name, [LatestRow("empty", 1, empty), LatestRow("full", 1, full),
                                      LatestRow("missing", 1, missing)])
    got = backend.read_latest(LISTS.name, ["empty", "full", "missing"])
    assert got == [LatestRow("empty", 1, empty), LatestRow("full", 1, full), LatestRow("missing", 1, missing)]


def test_values_equal_to_null_defaults_are_values(backend: OnlineBackend) -> None:
    """Pinot stores a missing value as a default ("null", Integer.MIN_VALUE, -Infinity): those are data too."""
    backend.create_tables([LISTS])
    defaults = {"names": ["null"], "counts": [-(2**63)], "small": [-(2**31)], "weights": [float("-inf")],
                "scores": [float("-inf")], "label": "null", "n": -(2**31), "x": float("-inf"), "on": False}
    backend.write_latest(LISTS.name, [LatestRow("k", 1, defaults)])
    assert backend.read_latest(LISTS.name, ["k"]) == [LatestRow("k", 1, defaults)]


def test_create_tables_twice_keeps_data(tables: OnlineBackend) -> None:
    tables.write_latest(LATEST.name, [LatestRow("k1", 10, {"industry": "a", "score": 1.5})])
    tables.create_tables([LATEST, ACTIONS, TEXT_ACTIONS])
    assert tables.read_latest(LATEST.name, ["k1"])[0] == LatestRow("k1", 10, {"industry": "a", "score": 1.5})


def test_drop_tables_ignores_missing(tables: OnlineBackend) -> None:
    tables.drop_tables([LATEST, TableSpec("p_never_created", "latest")])
    tables.create_tables([LATEST])
    assert tables.read_latest(LATEST.name, ["k1"]) == [None]


def test_latest_keeps_newest_event_time(tables: OnlineBackend) -> None:
    tables.write_latest(LATEST.name, [LatestRow("k1", 20, {"industry": "new", "score": 2.0})])
    tables.write_latest(LATEST.name, [LatestRow("k1", 10, {"industry": "old", "score": 1.0})])
    tables.write_latest(LATEST.name, [LatestRow("k2", 5, {"industry": "x", "score": None})])
    got = tables.read_latest(LATEST.name, ["k2", "missing", "k1", "k2"])
    assert got == [
        LatestRow("k2", 5, {"industry": "x", "score": None}),
        None,
        LatestRow("k1", 20, {"industry": "new", "score": 2.0}),
        LatestRow("k2", 5, {"industry": "x", "score": None}),
    ]


def test_read_latest_of_no_keys(tables: OnlineBackend) -> None:
    assert tables.read_latest(LATEST.name, []) == []


def test_append_deduplicates_by_action_id(tables: OnlineBackend) -> None:
    first = [action("a1", 7, 100), action("a2", 7, 200)]
    assert tables.append_actions(ACTIONS.name, first, WIDE) == 2
    replay = [action("a2", 7, 200), action("a3", 7, 300), action("a3", 7, 300)]
    assert tables.append_actions(ACTIONS.name, replay, WIDE) == 1
    history = tables.read_histories(ACTIONS.name, [7], WIDE)[0]
    assert history.action_ids == ("a3", "a2", "a1")


def test_history_order_window_and_limit(tables: OnlineBackend) -> None:
    rows = [action("b", 1, 500), action("a", 1, 500), action("c", 1, 400), action("d", 1, 100),
            action("e", 1, 600), action("x", 2, 450)]
    tables.append_actions(ACTIONS.name, rows, WIDE)
    window = HistoryWindow(since_ms=100, until_ms=500, limit=10)
    history, other, nobody = tables.read_histories(ACTIONS.name, [1, 2, 3], window)
    assert history.action_ids == ("a", "b", "c")  # ts DESC, ties by action_id ASC; 100 and 600 outside
    assert history.ts_ms == (500, 500, 400)
    assert history.verbs == ("view",) * 3
    assert history.objects == ("job:a", "job:b", "job:c")
    assert other.action_ids == ("x",)
    assert nobody.action_ids == ()
    capped = tables.read_histories(ACTIONS.name, [1], HistoryWindow(0, 10**6, 2))[0]
    assert capped.action_ids == ("e", "a")


def test_embeddings_round_trip_as_float32(tables: OnlineBackend) -> None:
    tables.append_actions(ACTIONS.name, [action("a1", 1, 10, emb=(0.1, 0.2, 0.3)),
                                         action("a2", 1, 20, emb=(1.0, 2.0, 3.0))], WIDE)
    history = tables.read_histories(ACTIONS.name, [1], WIDE)[0]
    assert history.embeddings is not None
    expected = np.array([[1.0, 2.0, 3.0], [0.1, 0.2, 0.3]], dtype=np.float32)
    np.testing.assert_array_equal(history.embeddings.astype(np.float32), expected)


def test_log_without_embeddings(tables: OnlineBackend) -> None:
    tables.append_actions(TEXT_ACTIONS.name, [action("t1", "m-1", 10, emb=None)], WIDE)
    history = tables.read_histories(TEXT_ACTIONS.name, ["m-1"], WIDE)[0]
    assert history.action_ids == ("t1",)
    assert history.embeddings is None or history.embeddings.size == 0


def test_trimming_never_drops_a_readable_action(tables: OnlineBackend) -> None:
    rows = [action(f"a{i:02d}", 1, 100 * i) for i in range(1, 11)]
    keep = HistoryWindow(since_ms=250, until_ms=800, limit=3)
    tables.append_actions(ACTIONS.name, rows, keep)
    now_read = tables.read_histories(ACTIONS.name, [1], keep)[0]
    assert now_read.action_ids == ("a08", "a07", "a06")
    later = tables.read_histories(ACTIONS.name, [1], HistoryWindow(since_ms=250, until_ms=1000, limit=3))[0]
    assert later.action_ids == ("a10", "a09", "a08")  # future actions are never trimmed


@pytest.mark.parametrize(
    "hostile",
    ["o'brien", 'quote"double', "back\\slash", "x' OR '1'='1", "a; DROP TABLE p_actions; --", "select", ""],
)
def test_hostile_values_are_data(tables: OnlineBackend, hostile: str) -> None:
    actor = f"m{hostile}"
    row = Action(f"id{hostile}", actor, f"v{hostile}", f"job:{hostile}", 50, None, "{}")
    tables.append_actions(TEXT_ACTIONS.name, [row, action("other", "m-other", 60, emb=None)], WIDE)
    history = tables.read_histories(TEXT_ACTIONS.name, [actor], WIDE)[0]
    assert history.action_ids == (f"id{hostile}",)
    assert history.verbs == (f"v{hostile}",)
    assert history.objects == (f"job:{hostile}",)
    tables.write_latest(LATEST.name, [LatestRow(f"k{hostile}", 1, {"industry": hostile, "score": 0.0})])
    assert tables.read_latest(LATEST.name, [f"k{hostile}"])[0].values["industry"] == hostile


def test_int_and_string_actors_are_distinct(tables: OnlineBackend) -> None:
    tables.append_actions(ACTIONS.name, [action("n1", 42, 10)], WIDE)
    tables.append_actions(TEXT_ACTIONS.name, [action("s1", "42", 10, emb=None)], WIDE)
    assert tables.read_histories(ACTIONS.name, [42], WIDE)[0].action_ids == ("n1",)
    assert tables.read_histories(TEXT_ACTIONS.name, ["42"], WIDE)[0].action_ids == ("s1",)


# -- what trimming may not change (issue 20, item 1) ---------------------------------------------------

HOUR = 3_600_000
RETENTION = 96 * HOUR
NOW = 1_767_571_200_000  # 2026-01-05T00:00Z


def _keep(now: int, cap: int = 3) -> HistoryWindow:
    """What a read at ``now`` returns from a log with 96 h retention and cap ``cap`` (ActionLogSpec.window)."""
    return HistoryWindow(now - RETENTION, now, cap)


def _ids(backend: OnlineBackend, actor: int, at: int, cap: int = 3) -> tuple[str, ...]:
    return backend.read_histories(ACTIONS.name, [actor], _keep(at, cap))[0].action_ids


def test_a_read_pinned_to_a_past_instant_sees_what_the_cap_hides_now(tables: OnlineBackend) -> None:
    for hours in range(5, -1, -1):  # N-5h ... N, one write each, the clock at each action
        at = NOW - hours * HOUR
        tables.append_actions(ACTIONS.name, [action(f"b{hours}", 1, at)], _keep(at))
    assert _ids(tables, 1, NOW) == ("b0", "b1", "b2")
    assert _ids(tables, 1, NOW - 5 * HOUR // 2) == ("b3", "b4", "b5")  # the backtest of the issue
    assert _ids(tables, 1, NOW - 5 * HOUR) == ("b5",)


def test_a_read_pinned_within_the_retention_reaches_back_a_retention_from_there(tables: OnlineBackend) -> None:
    old = NOW - RETENTION - HOUR  # out of a read now, inside a read pinned two hours ago
    tables.append_actions(ACTIONS.name, [action("old", 1, old)], _keep(old + HOUR))
    tables.append_actions(ACTIONS.name, [action("new", 1, NOW)], _keep(NOW))  # a write now trims what it may
    assert _ids(tables, 1, NOW) == ("new",)
    assert _ids(tables, 1, NOW - 2 * HOUR) == ("old",)


def test_an_id_behind_the_cap_stays_taken(tables: OnlineBackend) -> None:
    tables.append_actions(ACTIONS.name, [action(f"c{i}", 1, NOW - i * HOUR) for i in range(4)], _keep(NOW))
    assert _ids(tables, 1, NOW) == ("c0", "c1", "c2")  # c3 is behind the cap
    reused = [Action("c3", actor, "apply", "job:new", NOW - 60_000, (9.0, 9.0, 9.0), "{}") for actor in (1, 2)]
    for copy in reused:  # the same member and another one: the first copy written wins
        assert tables.append_actions(ACTIONS.name, [copy], _keep(NOW)) == 0
    assert _ids(tables, 1, NOW) == ("c0", "c1", "c2")
    assert _ids(tables, 2, NOW) == ()
    past = tables.read_histories(ACTIONS.name, [1], _keep(NOW, cap=10))[0]
    assert (past.action_ids, past.objects[3]) == (("c0", "c1", "c2", "c3"), "job:c3")


def test_an_id_trimmed_by_retention_stays_taken(tables: OnlineBackend) -> None:
    first = NOW - 3 * RETENTION  # beyond anything a read within the retention reaches
    tables.append_actions(ACTIONS.name, [action("r1", 1, first)], _keep(first))
    tables.append_actions(ACTIONS.name, [action("r2", 1, NOW - HOUR)], _keep(NOW))  # may trim r1
    for actor in (1, 2):
        copy = Action("r1", actor, "apply", "job:new", NOW - 60_000, (9.0, 9.0, 9.0), "{}")
        assert tables.append_actions(ACTIONS.name, [copy], _keep(NOW)) == 0
    assert _ids(tables, 1, NOW) == ("r2",)
    assert _ids(tables, 2, NOW) == ()
