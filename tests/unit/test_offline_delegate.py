"""The offline store's configuration (the delegate, the engine) and how it joins the delegate's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast import Entity, FeatureView, FileSource, ValueType
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres import PostgreSQLOfflineStoreConfig
from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig
from feast.repo_config import RepoConfig
from pydantic import ValidationError

from feast_pinot import action_log
from feast_pinot.errors import DeclarationError, OfflineStoreError
from feast_pinot.offline import ActionLogOfflineStoreConfig
from feast_pinot.offline.delegate import delegate_repo_config, delegate_store
from feast_pinot.offline.duckdb_store import RepoDuckDBOfflineStore
from feast_pinot.offline.plan import ROW_ID, EntityPlan
from feast_pinot.offline.required import check_offline_store
from feast_pinot.offline.store import aligned

STORE = "feast_pinot.offline.ActionLogOfflineStore"


def _repo_config(offline: Any, tmp_path: Path) -> RepoConfig:
    return RepoConfig(project="p", provider="local", registry=str(tmp_path / "registry.db"), repo_path=tmp_path,
                      online_store={"type": "sqlite", "path": str(tmp_path / "online.db")},
                      offline_store=offline, entity_key_serialization_version=3)


def _error(offline: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ValidationError) as caught:
        _repo_config(offline, tmp_path)
    return str(caught.value)


def test_no_delegate_is_the_repo_relative_duckdb_store(tmp_path: Path) -> None:
    config = _repo_config({"type": STORE}, tmp_path).offline_store
    assert isinstance(config, ActionLogOfflineStoreConfig)
    assert type(config.delegate) is DuckDBOfflineStoreConfig and config.engine == "duckdb"
    assert isinstance(delegate_store(config.delegate), RepoDuckDBOfflineStore)


def test_duckdb_options_at_the_top_configure_the_default_delegate(tmp_path: Path) -> None:
    config = _repo_config({"type": STORE, "staging_location": "s3://bucket/stage"}, tmp_path).offline_store
    assert config.delegate.staging_location == "s3://bucket/stage"
    assert config.staging_location == "s3://bucket/stage"  # read through, as Feast's DuckDB code reads it


def test_a_delegate_is_built_as_feast_builds_offline_stores(tmp_path: Path) -> None:
    block = {"type": "postgres", "host": "db", "database": "features", "user": "u", "password": "p"}
    config = _repo_config({"type": STORE, "delegate": block}, tmp_path)
    offline = config.offline_store
    assert isinstance(offline.delegate, PostgreSQLOfflineStoreConfig)
    assert (offline.delegate.host, offline.delegate.port, offline.delegate.sslmode) == ("db", 5432, "require")
    assert type(delegate_store(offline.delegate)).__name__ == "PostgreSQLOfflineStore"
    # data sources handed the repo's offline config read the delegate's settings through it
    assert (offline.host, offline.database) == ("db", "features")
    inner = delegate_repo_config(config, offline.delegate)
    assert inner.offline_store is offline.delegate
    assert (inner.project, inner.repo_path, inner.online_store.path) == ("p", tmp_path, str(tmp_path / "online.db"))
    assert config.offline_store is offline  # the repo's own config is untouched


def test_an_unknown_delegate_type_is_named_at_load(tmp_path: Path) -> None:
    message = _error({"type": STORE, "delegate": {"type": "snowflak.offline"}}, tmp_path)
    assert "offline_store.delegate.type: cannot load the Feast offline store 'snowflak.offline'" in message
    message = _error({"type": STORE, "delegate": {"type": "nowhere.MissingOfflineStore"}}, tmp_path)
    assert "offline_store.delegate.type: cannot load the Feast offline store 'nowhere.MissingOfflineStore'" \
        in message and "ModuleNotFoundError" in message


def test_a_delegate_without_type_or_not_a_mapping_is_named(tmp_path: Path) -> None:
    assert "offline_store.delegate.type is missing" in _error({"type": STORE, "delegate": {"host": "x"}}, tmp_path)
    assert "offline_store.delegate must be a mapping" in _error({"type": STORE, "delegate": "duckdb"}, tmp_path)
    assert "is this store" in _error({"type": STORE, "delegate": {"type": STORE}}, tmp_path)


def test_a_misspelt_or_missing_delegate_key_is_named(tmp_path: Path) -> None:
    block = {"type": "postgres", "hots": "db", "database": "f", "user": "u", "password": "p"}
    message = _error({"type": STORE, "delegate": block}, tmp_path)
    assert "offline_store.delegate.hots: Extra inputs are not permitted" in message
    assert "offline_store.delegate.host: Field required" in message
    assert "PostgreSQLOfflineStoreConfig" in message


def test_an_unknown_engine_and_a_misplaced_duckdb_option_are_named(tmp_path: Path) -> None:
    assert "offline_store.engine: unknown engine 'dask' (known: duckdb, spark)" in _error(
        {"type": STORE, "engine": "dask"}, tmp_path)
    message = _error({"type": STORE, "staging_location": "s3://b", "delegate": {"type": "duckdb"}}, tmp_path)
    assert "offline_store.staging_location: set it in offline_store.delegate" in message
    assert "Extra inputs are not permitted" in _error({"type": STORE, "delegat": {"type": "duckdb"}}, tmp_path)


def test_apply_with_a_store_that_cannot_read_action_logs_names_the_fix(tmp_path: Path) -> None:
    member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64)
    log = action_log("acts", member, ("a",), "data/acts")
    ordinary = FeatureView(name="plain", entities=[member], source=FileSource(path="x.parquet",
                                                                              timestamp_field="ts"))
    check_offline_store(_repo_config({"type": STORE}, tmp_path), [log, ordinary])
    check_offline_store(_repo_config({"type": "duckdb"}, tmp_path), [ordinary])  # no log: any store
    with pytest.raises(DeclarationError) as caught:
        check_offline_store(_repo_config({"type": "duckdb"}, tmp_path), [ordinary, log])
    assert str(caught.value).startswith("offline_store type 'duckdb' cannot read action logs (acts): use "
                                        f"'type: {STORE}' and keep your store as its delegate")
    assert "  delegate:\n    type: duckdb" in str(caught.value)


def _plan(n: int) -> EntityPlan:
    return EntityPlan.of(pd.DataFrame({
        "member_id": np.arange(n) % 3, "event_timestamp": pd.to_datetime(np.arange(n) * 1000, unit="ms", utc=True)}))


def _result(ids: list[int], plan: EntityPlan, row_id: str = ROW_ID) -> pa.Table:
    return pa.table({
        "MEMBER_ID": pa.array(plan.rows["member_id"].to_numpy()[ids] * 100),  # an entity column, upper-cased
        row_id: pa.array(ids, pa.int64()),
        "v__x": pa.array([i * 10 for i in ids], pa.int64()),
        "v__emb": pa.array([[float(i), -1.0] for i in ids], pa.list_(pa.float32())),
    })


def test_the_delegates_rows_are_matched_by_row_number_in_any_order() -> None:
    plan = _plan(6)
    frame = aligned(plan, _result([4, 0, 5, 2, 1, 3], plan))
    assert list(frame.columns) == ["v__x", "v__emb"]  # the entity columns are the plan's, not the store's copy
    assert frame["v__x"].tolist() == [0, 10, 20, 30, 40, 50] and frame["v__x"].dtype == np.int64
    assert [list(v) for v in frame["v__emb"]] == [[float(i), -1.0] for i in range(6)]


def test_a_row_the_delegate_left_out_is_kept_without_values() -> None:
    plan = _plan(4)
    frame = aligned(plan, _result([3, 0, 1], plan, row_id=ROW_ID.upper()))
    assert len(frame) == 4
    assert frame["v__x"].tolist()[:2] == [0.0, 10.0] and np.isnan(frame["v__x"][2]) and frame["v__x"][3] == 30
    assert frame["v__emb"].isna().tolist() == [False, False, True, False]


def test_a_row_returned_twice_or_no_row_numbers_is_an_error() -> None:
    plan = _plan(4)
    with pytest.raises(OfflineStoreError, match=r"returned entity row 2 2 times \(1 row\(s\) repeated\)"):
        aligned(plan, _result([0, 2, 1, 2, 3], plan))
    with pytest.raises(OfflineStoreError, match="has no column '__feast_pinot_row'"):
        aligned(plan, _result([0, 1, 2, 3], plan, row_id="row"))
