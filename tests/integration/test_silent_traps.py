"""Writes that succeed yet cannot give what was meant warn at the point of the mistake, naming the fix."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore, FeatureView
from feast.data_source import PushMode

from demo.synthetic import Scenario, write_batch_sources
from feast_pinot import DeclarationError, ObjectAttribute, action_history, push_actions
from feast_pinot.actions import actions_to_frame, validate_actions
from feast_pinot.clock import now_ms
from feast_pinot.errors import FeastPinotWarning
from feast_pinot.specs import ActionLogSpec, spec_of
from stream_ingest.sinks import PushSink
from tests.integration.conftest import REPO_SOURCE, run_feast
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


def test_seen_features_declare_the_form_of_a_log_that_stores_its_embeddings(store: FeatureStore) -> None:
    # 'acts' joins no attribute; its 'acts_rank' view's seen features key objects by object_prefix 'job:'
    embedding = {"embedding": [1, 0]}
    caught = _ours(lambda: push_actions(store, "acts", [_act(107, "12", objectAttributes=embedding),
                                                        _act(107, "job:5", objectAttributes=embedding)]))
    assert [str(w.message) for w in caught] == [
        "1 object(s) pushed to 'acts' match no declared object key, so no attribute join or seen feature will "
        "ever match them: '12'. Objects must look like 'job:<integer>' (acts_rank); write e.g. 'job:12', not '12'"]


def _wrong_dim_history(store: FeatureStore) -> FeatureView:
    attribute = ObjectAttribute(store.get_feature_view("job_attributes"), "embedding", dim=3, object_prefix="job:")
    return action_history("wrong_hist", store.get_feature_view("light"), attribute=attribute)


WRONG_DIM = ("action_history 'wrong_hist' declares ObjectAttribute(dim=3) but 'job_attributes.embedding' holds "
             "2-dim vectors, so no action would get an embedding and every similarity would be 0.0: declare dim=2")


def test_feast_apply_refuses_an_attribute_dim_its_vectors_do_not_have(tmp_path: Path) -> None:
    store = make_mini_repo(tmp_path / "repo", jobs_frame(JOBS, NOW - 50 * HOUR))
    with pytest.raises(DeclarationError) as refused:
        store.apply([_wrong_dim_history(store)])
    assert str(refused.value) == WRONG_DIM
    assert "wrong_hist" not in {v.name for v in store.list_feature_views()}


def test_a_read_finding_vectors_of_another_dim_warns(tmp_path: Path) -> None:
    store = make_mini_repo(tmp_path / "repo", jobs_frame(JOBS, NOW - 50 * HOUR))
    source = tmp_path / "repo" / "data" / "jobs.parquet"
    source.rename(source.with_suffix(".away"))  # written after apply (or remote): apply cannot see it
    store.apply([_wrong_dim_history(store)])
    source.with_suffix(".away").rename(source)
    push_actions(store, "light", [_act(108, "job:3")])
    caught = _ours(lambda: store.get_online_features(
        features=["wrong_hist:action_embeddings"], entity_rows=[{"member_id": 108}]).to_dict())
    assert [str(w.message) for w in caught] == [WRONG_DIM]


def test_feast_plan_on_the_unchanged_example_repo_reports_no_change(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO_SOURCE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    write_batch_sources(repo, Scenario(start_ms=NOW - 10 * HOUR, hours=9, members=3, jobs=5))
    applied = run_feast(repo, "apply")
    planned = run_feast(repo, "plan")
    assert "No changes to registry" in planned.stdout, planned.stdout
    assert "Updated" not in planned.stdout and "Created" not in planned.stdout, planned.stdout
    # Feast's "on demand feature views ... do not scale well for offline retrieval" is untrue of windowed views
    assert "does not scale well" not in applied.stderr + planned.stderr


def test_the_ingesters_online_push_sink_does_not_warn(store: FeatureStore) -> None:
    # it pushes online only on purpose: its OfflineSink writes the log
    spec = spec_of(store.get_feature_view("light"), ActionLogSpec)
    assert spec is not None
    good, _ = validate_actions([_act(109, "job:3")], spec, now_ms())
    assert _ours(lambda: PushSink(store, spec).write(good)) == []
    assert _history_objects(store, "light_hist", 109) == ["job:3"]
