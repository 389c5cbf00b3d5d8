"""The Spark engine equals the DuckDB engine bit for bit, and both equal the independent reference.

Every test runs twice: in local mode and on a real standalone cluster (a
master and two workers, separate JVMs: the engine is pickled to the workers'
Python processes). The inputs are the existing parity inputs:

* tests/unit/test_offline_beyond.py's log (windows, decay, seen, interests,
  a cap cutting a tie, a later copy of an ``action_id`` by another actor,
  ``request_ts`` before the row's time, several candidates per instant), plus
  an action whose first copy has a NaN embedding;
* tests/integration/test_parity.py's replay (shuffled, late and replayed
  pushes under a pinned clock; the read-time attribute join), against
  tests/reference.py and the online values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from feast import FeatureStore
from feast.errors import RequestDataNotFoundInEntityDfException

from feast_pinot.errors import OfflineStoreError
from feast_pinot.features import output_names
from feast_pinot.offline.parts import resolve_path, write_action_parts
from feast_pinot.specs import HISTORY_FEATURES, HistorySpec, spec_of
from tests.integration import test_parity as parity
from tests.reference import assert_matches
from tests.unit import test_offline_beyond as beyond

NAN_ID = "nan-first"


def spark_store(store: FeatureStore, name: str, **spark: Any) -> FeatureStore:
    """The same repo with ``engine: spark`` (and these Spark options), through a second yaml."""
    root = Path(store.repo_path)
    config = yaml.safe_load((root / "feature_store.yaml").read_text())
    config["offline_store"] |= {"engine": "spark", "spark": spark}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return FeatureStore(repo_path=str(root), fs_yaml_file=path)


def _nan_then_finite(store: FeatureStore) -> None:
    """A part whose action has a NaN embedding, then a later part with a finite copy: the finite one counts."""
    history = spec_of(store.get_feature_view("acts_hist"), HistorySpec)
    assert history is not None
    spec = history.log
    for emb in ([float("nan"), 1.0, 0.0], [0.25, -1.0, 3.0]):
        act = beyond._act(NAN_ID, 3, "a", "job:7", beyond.T_EDGE - 30 * 60_000, emb)
        write_action_parts(resolve_path(store.repo_path, spec.path), beyond._table([act]), spec)


@pytest.fixture(scope="module")
def beyond_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureStore, pd.DataFrame]:
    rng = np.random.default_rng(4)
    actions = [*beyond._random_actions(rng), *beyond._edge_actions()]
    actions.append({**actions[3], "member_id": 9, "ts": actions[3]["ts"] + beyond.HOUR})  # a later copy, another actor
    rng.shuffle(actions)  # type: ignore[arg-type]
    store = beyond._repo(tmp_path_factory.mktemp("spark-beyond") / "repo", actions)
    _nan_then_finite(store)
    return store, beyond._entities(rng)


def _refs(store: FeatureStore) -> list[str]:
    return [f"{view}:{n}" for view in beyond.VIEWS for n in output_names(beyond._spec(store, view))]


@pytest.fixture(scope="module")
def duckdb_beyond(beyond_repo: tuple[FeatureStore, pd.DataFrame]) -> pd.DataFrame:
    store, entities = beyond_repo
    return store.get_historical_features(entity_df=entities, features=_refs(store), full_feature_names=True).to_df()


def _cell(value: Any) -> Any:
    """A value as comparable bits: numbers and vectors as float64 bytes, strings and lists of them as tuples."""
    if isinstance(value, (bytes, str)):
        return value
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    array = np.asarray(value)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64).tobytes()
    return tuple(array.tolist())


def _floats(column: pd.Series) -> np.ndarray:
    return np.stack([np.asarray(v, dtype=np.float64) for v in column])


def assert_identical(got: pd.DataFrame, want: pd.DataFrame, close: frozenset[str] = frozenset()) -> None:
    """Same columns in order, same rows in order: every value bit for bit (``close``: within 1e-9)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for name in want.columns:
        if pd.api.types.is_integer_dtype(want[name].dtype):
            assert got[name].dtype == want[name].dtype and got[name].tolist() == want[name].tolist(), name
        elif pd.api.types.is_datetime64_any_dtype(want[name].dtype):
            assert got[name].tolist() == want[name].tolist(), name
        elif name in close:
            np.testing.assert_allclose(_floats(got[name]), _floats(want[name]), rtol=0, atol=1e-9, err_msg=name)
        else:
            assert [_cell(v) for v in got[name]] == [_cell(v) for v in want[name]], name


def test_every_family_equals_the_duckdb_engine_bit_for_bit(spark_session: Any, beyond_repo: Any,
                                                            duckdb_beyond: pd.DataFrame) -> None:
    store, entities = beyond_repo
    spark = spark_store(store, "spark", actor_buckets=3)
    got = spark.get_historical_features(entity_df=entities, features=_refs(store), full_feature_names=True).to_df()
    assert_identical(got, duckdb_beyond)
    rows = got.iloc[:, : len(entities.columns)]
    pd.testing.assert_frame_equal(rows.drop(columns="event_timestamp"),
                                  entities.drop(columns="event_timestamp"), check_dtype=False)  # order, duplicates
    at_edge = (entities["member_id"] == 3).to_numpy() & (entities["event_timestamp"] == _edge()).to_numpy()
    assert at_edge.sum() == 1 and (got.loc[at_edge, "beyond__a_count_1h"] >= 1).all(), "the finite copy counts"


def test_history_lists_equal_the_duckdb_engine(spark_session: Any, beyond_repo: Any) -> None:
    store, entities = beyond_repo
    refs = [f"acts_hist:{f}" for f in HISTORY_FEATURES]
    want = store.get_historical_features(entity_df=entities, features=refs).to_df()
    got = spark_store(store, "spark", actor_buckets=3).get_historical_features(entity_df=entities,
                                                                                features=refs).to_df()
    assert_identical(got, want)
    at_edge = (entities["member_id"] == 3).to_numpy() & (entities["event_timestamp"] == _edge()).to_numpy()
    for ts, embeddings in zip(got.loc[at_edge, "action_ts"], got.loc[at_edge, "action_embeddings"]):
        kept = list(ts).index(beyond.T_EDGE - 30 * 60_000)  # the finite copy of the action first written with NaN
        assert np.frombuffer(embeddings, "<f4")[3 * kept: 3 * kept + 3].tolist() == [0.25, -1.0, 3.0]


def _edge() -> pd.Timestamp:
    return pd.Timestamp(beyond.T_EDGE, unit="ms", tz="UTC")


def _window_means(store: FeatureStore) -> set[str]:
    """The outputs summed through running sums: what a slab (a later start of the sums) may round differently."""
    names = set()
    for view in beyond.VIEWS:
        for name, output in output_names(beyond._spec(store, view)).items():
            if output.kind.name in ("mean_emb", "sim"):
                names.add(f"{view}__{name}")
    return names


def test_a_hot_actor_split_across_time_slabs_gives_the_same_values(spark_session: Any, beyond_repo: Any,
                                                                   duckdb_beyond: pd.DataFrame) -> None:
    """6-hour slabs over 110 hours: every actor's rows in many groups, each with only the actions they can see."""
    store, entities = beyond_repo
    slabbed = spark_store(store, "slabs", actor_buckets=2, time_slab_hours=6)
    got = slabbed.get_historical_features(entity_df=entities, features=_refs(store), full_feature_names=True).to_df()
    slabs = pd.Series(entities["event_timestamp"].astype("int64") // 10**6 // (6 * beyond.HOUR))
    assert slabs.groupby(entities["member_id"]).nunique().max() >= 5, "some actor's rows span several slabs"
    # counts, ages, clusters, decays, medoids: bit for bit; window means and their similarities: within 1e-9
    # (the engine's TOLERANCE: a slab's running sums start at its first action, the whole log's earlier)
    assert_identical(got, duckdb_beyond, close=frozenset(_window_means(store)))


def test_bad_entity_rows_are_named(spark_session: Any, beyond_repo: Any) -> None:
    store, entities = beyond_repo
    spark = spark_store(store, "spark", actor_buckets=3)
    # Feast itself checks a pandas entity_df for the request fields before any store sees it
    with pytest.raises(RequestDataNotFoundInEntityDfException, match="request_ts not found .* view beyond"):
        spark.get_historical_features(entity_df=entities.drop(columns="request_ts"), features=_refs(store)).to_df()
    nulls = entities.assign(request_ts=pd.array([None] * len(entities), dtype="Int64"))
    with pytest.raises(OfflineStoreError, match="'request_ts' must hold epoch ms"):
        spark.get_historical_features(entity_df=nulls, features=_refs(store)).to_df()


@pytest.fixture(scope="module")
def duckdb_replay(replay: parity.Replay) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The replay's entity rows (the online reads) and the DuckDB engine's training frame of them."""
    entity_df = pd.DataFrame({
        "member_id": [r["member_id"] for r in replay.online],
        "job_id": [r["job_id"] for r in replay.online],
        "event_timestamp": pd.to_datetime([r["instant"] for r in replay.online], unit="ms", utc=True),
        "request_ts": [r["request_ts"] for r in replay.online],
    })
    frame = replay.store.get_historical_features(entity_df=entity_df, features=parity._features(),
                                                 full_feature_names=True).to_df()
    return entity_df, frame


def test_the_parity_replay_three_ways(spark_session: Any, replay: parity.Replay,
                                      duckdb_replay: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Spark == DuckDB bit for bit on the replay (the read-time join too), and == the reference and online."""
    entity_df, want = duckdb_replay
    spark = spark_store(replay.store, "spark", actor_buckets=3)
    got = spark.get_historical_features(entity_df=entity_df, features=parity._features(),
                                        full_feature_names=True).to_df()
    assert_identical(got, want)
    lists = spark.get_historical_features(entity_df=entity_df.drop(columns="request_ts"), features=parity.HISTORY_REFS,
                                          full_feature_names=True).to_df()
    for i, row in enumerate(replay.online):
        off = got.iloc[i]
        for view, declared in parity.DECLARED.items():
            assert_matches(off, parity.expected(replay.raw, row, declared), parity._context("spark", view, row),
                           f"{view}__")
        for ref in parity.HISTORY_REFS:
            key = ref.replace(":", "__")
            assert list(lists[key].iloc[i]) == list(row[key]), f"spark row {i} {key}"


def test_spark_entity_rows_and_spark_results(spark_session: Any, beyond_repo: Any, duckdb_beyond: pd.DataFrame,
                                             tmp_path: Path) -> None:
    """A Spark DataFrame or Spark SQL as entity_df gives the pandas call's frame; to_spark_df and persist keep it."""
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SavedDatasetSparkStorage

    store, entities = beyond_repo
    spark = spark_store(store, "spark", actor_buckets=3)
    given = spark_session.createDataFrame(entities)
    given.createOrReplaceTempView("beyond_entities")
    for entity_df in (given, "SELECT * FROM beyond_entities"):
        job = spark.get_historical_features(entity_df=entity_df, features=_refs(store), full_feature_names=True)
        assert_identical(job.to_df(), duckdb_beyond)
    back = job.to_spark_df().toPandas()
    assert len(back) == len(entities) and list(back.columns) == list(duckdb_beyond.columns)
    assert back["beyond__a_count_1h"].tolist() == duckdb_beyond["beyond__a_count_1h"].tolist()
    path = str(tmp_path / "saved")
    job.persist(SavedDatasetSparkStorage(path=path, file_format="parquet"))
    saved = spark_session.read.parquet(path).toPandas().sort_values(["member_id", "event_timestamp"])
    want = duckdb_beyond.sort_values(["member_id", "event_timestamp"])
    assert saved["beyond__a_count_1h"].tolist() == want["beyond__a_count_1h"].tolist()
    with pytest.raises(OfflineStoreError, match="saving the training data to .*saved failed"):
        job.persist(SavedDatasetSparkStorage(path=path, file_format="parquet"))  # exists, no allow_overwrite
    with pytest.raises(OfflineStoreError, match="to_spark_df\\(\\) needs offline_store.engine: spark"):
        store.get_historical_features(entity_df=entities, features=_refs(store)).to_spark_df()
    with pytest.raises(OfflineStoreError, match="entity_df must be a pandas DataFrame here, got DataFrame"):
        store.get_historical_features(entity_df=given, features=_refs(store))
