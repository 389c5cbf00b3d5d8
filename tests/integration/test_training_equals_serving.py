"""Training data equals serving for every valid input, on both online stores (issue 20, items 1, 4, 6).

The same small repo (logs capped at 3 actions per member) on the embedded
store and on PinotOnlineStore (the session's real Pinot): backtests pinned to
a past instant, ``action_id``s reused after the cap or the retention left
them out, booleans in a pushed embedding, and times in the wrong unit.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot import ActionValidationError, push_actions, with_request_ts
from feast_pinot.clock import frozen, now_ms
from feast_pinot.errors import RequestFieldError
from tests.fixtures.pinot import pinot_settings
from tests.integration.mini_repo import HOUR, jobs_frame, make_mini_repo

NOW = now_ms() // 1000 * 1000
RETENTION = 96 * HOUR
CAP = 3


@pytest.fixture(scope="module", params=["embedded", "pinot"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    online = None
    if request.param == "pinot":
        online = pinot_settings(request.getfixturevalue("pinot_endpoints"),
                                request.getfixturevalue("module_pinot_prefix"))
    root = tmp_path_factory.mktemp(f"agree-{request.param}") / "repo"
    return make_mini_repo(root, jobs_frame({3: [1.0, 2.0], 5: [3.0, 4.0]}, NOW - 50 * HOUR),
                          max_actions=CAP, online_store=online)


def _act(member: int, aid: str, ts: int, obj: str = "job:3", emb: tuple[float, float] = (1.0, 2.0)) -> dict[str, Any]:
    return {"action_id": aid, "actor": member, "verb": "a", "object": obj, "timestamp": ts,
            "objectAttributes": {"embedding": list(emb)}}


def _online(store: FeatureStore, member: int, at: int, refs: list[str]) -> dict[str, Any]:
    with frozen(at):
        got = store.get_online_features(features=refs, entity_rows=[{"member_id": member, "request_ts": at}])
    return {k: v[0] for k, v in got.to_dict().items()}


def _offline(store: FeatureStore, member: int, at: int, refs: list[str]) -> dict[str, Any]:
    rows = pd.DataFrame({"member_id": [member], "event_timestamp": [pd.Timestamp(at, unit="ms", tz="UTC")]})
    out = store.get_historical_features(entity_df=with_request_ts(rows), features=refs).to_df()
    return {k: (list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v) for k, v in out.iloc[0].items()}


def _histories(store: FeatureStore, member: int, at: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(online, offline) ``action_ts`` and ``action_objects`` of ``member`` at ``at``."""
    refs = ["acts_hist:action_ts", "acts_hist:action_objects"]
    online, offline = _online(store, member, at, refs), _offline(store, member, at, refs)
    return ({k: online[k] or [] for k in ("action_ts", "action_objects")},
            {k: offline[k] for k in ("action_ts", "action_objects")})


def test_a_backtest_reads_what_training_data_holds_at_that_instant(store: FeatureStore) -> None:
    member = 1
    for hours in range(5, -1, -1):  # N-5h ... N, one push each with the clock at the action: each write trims
        at = NOW - hours * HOUR
        with frozen(at):
            push_actions(store, "acts", [_act(member, f"bt-{hours}", at, obj=f"job:{hours}")])
    past = NOW - 5 * HOUR // 2
    expected = {"action_ts": [NOW - 3 * HOUR, NOW - 4 * HOUR, NOW - 5 * HOUR],
                "action_objects": ["job:3", "job:4", "job:5"]}
    assert _histories(store, member, past) == (expected, expected)
    now = {"action_ts": [NOW, NOW - HOUR, NOW - 2 * HOUR], "action_objects": ["job:0", "job:1", "job:2"]}
    assert _histories(store, member, NOW) == (now, now)
    refs = ["acts_win:a_count_96h", "acts_win:a_count_1h"]
    online, offline = _online(store, member, past, refs), _offline(store, member, past, refs)
    assert (online["a_count_96h"], online["a_count_1h"]) == (offline["a_count_96h"], offline["a_count_1h"]) == (3, 1)


def test_an_action_id_behind_the_cap_stays_the_first_written(store: FeatureStore) -> None:
    member, other = 2, 3
    with frozen(NOW):
        push_actions(store, "acts", [_act(member, f"cap-{i}", NOW - (i + 1) * HOUR, obj=f"job:{i}") for i in range(4)])
        for actor in (member, other):  # cap-3 is behind the cap now: a new copy of it, from anyone, is refused
            push_actions(store, "acts", [_act(actor, "cap-3", NOW - 600_000, obj="job:999", emb=(9.0, 9.0))])
    top = {"action_ts": [NOW - HOUR, NOW - 2 * HOUR, NOW - 3 * HOUR], "action_objects": ["job:0", "job:1", "job:2"]}
    assert _histories(store, member, NOW) == (top, top)
    empty: dict[str, list[Any]] = {"action_ts": [], "action_objects": []}
    assert _histories(store, other, NOW) == (empty, empty)
    first = {"action_ts": [NOW - 4 * HOUR], "action_objects": ["job:3"]}
    assert _histories(store, member, NOW - 7 * HOUR // 2) == (first, first)  # the first copy, where it was


def test_an_action_id_beyond_the_retention_stays_the_first_written(store: FeatureStore) -> None:
    member, other = 4, 5
    first = NOW - 3 * RETENTION
    with frozen(first):
        push_actions(store, "acts", [_act(member, "ret-1", first)])
    with frozen(NOW):
        push_actions(store, "acts", [_act(member, "ret-2", NOW - HOUR)])  # the embedded store trims ret-1 here
        for actor in (member, other):
            push_actions(store, "acts", [_act(actor, "ret-1", NOW - 600_000, obj="job:999", emb=(9.0, 9.0))])
    kept = {"action_ts": [NOW - HOUR], "action_objects": ["job:3"]}
    assert _histories(store, member, NOW) == (kept, kept)
    empty: dict[str, list[Any]] = {"action_ts": [], "action_objects": []}
    assert _histories(store, other, NOW) == (empty, empty)


@pytest.mark.parametrize("mode", [PushMode.ONLINE, PushMode.ONLINE_AND_OFFLINE])
def test_store_push_refuses_a_boolean_in_an_embedding(store: FeatureStore, mode: PushMode) -> None:
    member = 10 + mode.value
    at = pd.Timestamp(NOW - 1000, unit="ms", tz="UTC")
    frame = pd.DataFrame({"member_id": [member, member], "action_id": ["fine", "flag"], "verb": ["a", "a"],
                          "object": ["job:3", "job:5"], "attributes": [None, None],
                          "embedding": [[0.5, 0.25], [True, 0.5]], "event_timestamp": [at, at]})
    with frozen(NOW), pytest.raises(ActionValidationError) as err:
        store.push("acts_push", frame, to=mode)
    assert err.value.problems == [(1, "embedding must contain only numbers, got bool")]
    empty: dict[str, list[Any]] = {"action_ts": [], "action_objects": []}
    assert _histories(store, member, NOW) == (empty, empty)  # nothing online, nothing offline


def _as_date(ms: int) -> str:
    shown = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    return shown.isoformat(timespec="milliseconds").replace("+00:00", "Z")


SECONDS = NOW // 1000
MICROS = NOW * 1000
RANGE = "must be epoch milliseconds from 2001-01-01 to 2100-01-01, got"
SECONDS_SAID = f"{SECONDS} (as milliseconds it is {_as_date(SECONDS)}; seconds? as seconds it is {_as_date(NOW)})"
MICROS_SAID = (f"{MICROS} (as milliseconds it is after the year 9999; "
               f"microseconds? as microseconds it is {_as_date(NOW)})")


@pytest.mark.parametrize(("value", "said"), [(SECONDS, SECONDS_SAID), (MICROS, MICROS_SAID)])
@pytest.mark.parametrize("refs", [
    ["acts_win:a_count_1h", "acts_win:a_mean_emb_96h"],  # the ranking read
    ["light_win:a_count_1h"],  # a read-time joined history
    ["acts_rank:a_sim_1h", "acts_rank:a_seen_age_ms_96h"],  # per candidate
    ["acts_hist:action_ts"],  # no windowed view: Feast's own path
])
def test_a_request_ts_in_another_unit_is_refused_online(
    store: FeatureStore, value: int, said: str, refs: list[str]
) -> None:
    rows = [{"member_id": 1, "job_id": 3, "request_ts": NOW}, {"member_id": 1, "job_id": 3, "request_ts": value}]
    with frozen(NOW), pytest.raises(RequestFieldError) as err:
        store.get_online_features(features=refs, entity_rows=rows)
    assert str(err.value) == f"'request_ts' {RANGE} {said} in row 1"
    assert err.value.http_status_code() == 422


@pytest.mark.parametrize("refs", [["acts_win:a_count_1h"], ["light_win:a_count_1h"], ["acts_rank:a_sim_1h"]])
def test_a_request_ts_in_seconds_is_refused_offline(store: FeatureStore, refs: list[str]) -> None:
    at = pd.Timestamp(NOW, unit="ms", tz="UTC")
    rows = pd.DataFrame({"member_id": [1, 1], "job_id": [3, 3], "event_timestamp": [at, at],
                         "request_ts": [NOW, SECONDS]})
    with pytest.raises(RequestFieldError) as err:
        store.get_historical_features(entity_df=rows, features=refs).to_df()
    assert str(err.value) == f"'request_ts' {RANGE} {SECONDS_SAID} in row 1"


def test_an_action_timestamp_in_another_unit_is_refused(store: FeatureStore) -> None:
    member = 20
    with frozen(NOW), pytest.raises(ActionValidationError) as err:
        push_actions(store, "acts", [_act(member, "unit-ok", NOW - 1000), _act(member, "unit-s", SECONDS),
                                     _act(member, "unit-us", MICROS)])
    assert err.value.problems == [(1, f"'timestamp' {RANGE} {SECONDS_SAID}"), (2, f"'timestamp' {RANGE} {MICROS_SAID}")]
    empty: dict[str, list[Any]] = {"action_ts": [], "action_objects": []}
    assert _histories(store, member, NOW) == (empty, empty)
