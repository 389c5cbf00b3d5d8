"""Writes that succeed yet cannot give what was meant warn at the point of the mistake, naming the fix."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot import push_actions
from feast_pinot.actions import actions_to_frame, validate_actions
from feast_pinot.clock import now_ms
from feast_pinot.errors import FeastPinotWarning
from feast_pinot.specs import ActionLogSpec, spec_of
from tests.integration.mini_repo import HOUR, jobs_frame, make_mini_repo

NOW = now_ms() // 1000 * 1000
JOBS = {3: [1.0, 2.0], 5: [3.0, 4.0]}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return make_mini_repo(tmp_path_factory.mktemp("traps") / "repo", jobs_frame(JOBS, NOW - 50 * HOUR))


def _act(actor: int, obj: str, **extra: Any) -> dict[str, Any]:
    return {"actor": actor, "verb": "a", "object": obj, "timestamp": NOW - HOUR, **extra}


def _ours(call: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, FeastPinotWarning)]


def _push_frame(store: FeatureStore, log: str, actions: list[dict[str, Any]]) -> pd.DataFrame:
    spec = spec_of(store.get_feature_view(log), ActionLogSpec)
    assert spec is not None
    good, bad = validate_actions(actions, spec, now_ms())
    assert bad == []
    return actions_to_frame(good, spec)


def _history_objects(store: FeatureStore, history: str, member: int) -> list[str]:
    got = store.get_online_features(features=[f"{history}:action_objects"], entity_rows=[{"member_id": member}])
    return list(got.to_dict()["action_objects"][0] or [])


def test_store_push_of_a_log_online_only_warns_at_the_callers_line(store: FeatureStore) -> None:
    frame = _push_frame(store, "light", [_act(101, "job:3")])
    line = _line_of_next_push()
    caught = _ours(lambda: store.push("light_push", frame))
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("store.push of action log 'light' with PushMode.ONLINE (store.push's default) "
                              "writes the online store only: training data")
    assert "to=PushMode.ONLINE_AND_OFFLINE" in message and "feast_pinot.push_actions" in message
    assert (Path(caught[0].filename).name, caught[0].lineno) == (Path(__file__).name, line)
    assert _history_objects(store, "light_hist", 101) == ["job:3"]  # warned, not refused: the write happened


def _line_of_next_push() -> int:
    import inspect

    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno + 1


def test_store_push_to_both_stores_and_push_actions_do_not_warn(store: FeatureStore) -> None:
    frame = _push_frame(store, "light", [_act(102, "job:3")])
    assert _ours(lambda: store.push("light_push", frame, to=PushMode.ONLINE_AND_OFFLINE)) == []
    assert _ours(lambda: push_actions(store, "light", [_act(103, "job:5")])) == []
    assert _ours(lambda: push_actions(store, "light", [_act(104, "job:5")], to=PushMode.OFFLINE)) == []
    assert _history_objects(store, "light_hist", 103) == ["job:5"]


def test_push_actions_online_only_warns_once_at_its_caller(store: FeatureStore) -> None:
    caught = _ours(lambda: push_actions(store, "light", [_act(105, "job:5")], to=PushMode.ONLINE))
    assert [str(w.message).split(":")[0] for w in caught] == [
        "push_actions of action log 'light' with PushMode.ONLINE writes the online store only"]
    assert Path(caught[0].filename).name == Path(__file__).name


def test_an_object_without_the_declared_prefix_warns_naming_the_form(store: FeatureStore) -> None:
    actions = [_act(106, "12"), _act(106, "job:x"), _act(106, "job:3")]
    caught = _ours(lambda: push_actions(store, "light", actions))
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "2 object(s) pushed to 'light' match no declared object key, so no attribute join or seen feature will "
        "ever match them: '12', 'job:x'. Objects must look like 'job:<integer>' (light_hist); write e.g. "
        "'job:12', not '12'")
    assert Path(caught[0].filename).name == Path(__file__).name
    assert sorted(_history_objects(store, "light_hist", 106)) == ["12", "job:3", "job:x"]  # stored all the same


def test_a_log_no_view_keys_objects_of_takes_any_object(store: FeatureStore) -> None:
    # 'acts' stores its embeddings: no attribute join, no seen features, so no declared form
    assert _ours(lambda: push_actions(store, "acts", [_act(107, "12", objectAttributes={"embedding": [1, 0]})])) == []
