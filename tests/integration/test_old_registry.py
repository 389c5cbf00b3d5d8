"""A registry written before ``feast_pinot.features`` existed still loads and serves.

``tests/data/registry_c6a3435.db`` is the registry ``feast apply`` wrote for
``feature_repo/`` on commit c6a3435, and ``online_store_c6a3435.db`` the
embedded store it created: its windowed views' UDFs import
``feast_pinot.windows.windowed_features`` and its specs are that release's.
Without a new apply, the same repo serves online and builds training data,
with the values a fresh apply gives.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore

from demo.synthetic import Scenario, actions, write_batch_sources
from feast_pinot import push_actions
from feast_pinot.clock import frozen
from tests.integration.conftest import REPO_SOURCE, run_feast

DATA = Path(__file__).resolve().parents[1] / "data"
HOUR = 3_600_000
SCENARIO = Scenario(start_ms=1_767_571_200_000, hours=30, members=4, jobs=60, actions_per_member_hour=1.0)
NOW = SCENARIO.end_ms
SERVICES = ("job_ranking_v1", "job_ranking_v2", "job_candidates_v2")


def _repo(root: Path, applied_by: str | None) -> FeatureStore:
    """The example repo, applied now (None) or by the release ``applied_by`` (its registry and online store)."""
    shutil.copytree(REPO_SOURCE, root, ignore=shutil.ignore_patterns("data", "__pycache__"))
    write_batch_sources(root, SCENARIO)
    if applied_by is None:
        run_feast(root, "apply")
    else:
        shutil.copy(DATA / f"registry_{applied_by}.db", root / "data" / "registry.db")
        shutil.copy(DATA / f"online_store_{applied_by}.db", root / "data" / "online_store.db")
    store = FeatureStore(repo_path=str(root))
    store.materialize(pd.Timestamp(SCENARIO.start_ms - 24 * HOUR, unit="ms", tz="UTC").to_pydatetime(),
                      pd.Timestamp(NOW, unit="ms", tz="UTC").to_pydatetime())
    with frozen(NOW):
        push_actions(store, "member_actions", actions(SCENARIO))
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureStore, FeatureStore]:
    root = tmp_path_factory.mktemp("registries")
    return _repo(root / "old", "c6a3435"), _repo(root / "fresh", None)


def _rows() -> list[dict[str, Any]]:
    return [{"member_id": m, "job_id": j, "request_ts": NOW} for m in range(1, 5) for j in (3, 17)]


def test_the_old_registry_holds_the_old_udf_path(stores: tuple[FeatureStore, FeatureStore]) -> None:
    old, fresh = stores
    old_udf = old.get_on_demand_feature_view("member_job_windows").feature_transformation.udf_string
    assert "from feast_pinot.windows import windowed_features" in old_udf
    assert "from feast_pinot.features import windowed_features" in (
        fresh.get_on_demand_feature_view("member_job_windows").feature_transformation.udf_string)


@pytest.mark.parametrize("service", SERVICES)
def test_the_old_registry_serves_what_a_fresh_apply_serves(
        stores: tuple[FeatureStore, FeatureStore], service: str) -> None:
    old, fresh = stores
    with frozen(NOW):
        got = old.get_online_features(features=old.get_feature_service(service), entity_rows=_rows()).to_dict()
        want = fresh.get_online_features(features=fresh.get_feature_service(service), entity_rows=_rows()).to_dict()
    assert got.keys() == want.keys() and len(got) > 5
    assert got == want
    assert any(v != 0 for v in got["job_apply_count_96h"])


def test_the_old_registry_builds_the_training_data_a_fresh_apply_builds(
        stores: tuple[FeatureStore, FeatureStore]) -> None:
    old, fresh = stores
    rows = pd.DataFrame(_rows()).assign(event_timestamp=pd.Timestamp(NOW, unit="ms", tz="UTC"))
    got = old.get_historical_features(entity_df=rows, features=old.get_feature_service("job_ranking_v2")).to_df()
    want = fresh.get_historical_features(entity_df=rows, features=fresh.get_feature_service("job_ranking_v2")).to_df()
    assert list(got.columns) == list(want.columns)
    for column in got.columns:
        assert [np.asarray(v).tolist() for v in got[column]] == [np.asarray(v).tolist() for v in want[column]], column
