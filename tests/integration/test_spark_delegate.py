"""Feast's Spark offline store as the delegate: SparkSource views in a local Spark, windowed features beside them.

Feast's Spark store refuses a ``FileSource`` for ordinary views, so the repo's
two delegate views are ``SparkSource`` Parquet paths; its Parquet view
(``job_files``, the read-time join's attributes) is read by DuckDB. Apply and
materialize run through the SDK in this process, so the delegate uses the
test's SparkSession (Feast's store takes the active session) instead of
starting a JVM per CLI call.

Without pyspark or Java the test is skipped, except under ``CI=true``, where
a missing install step fails the run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.fixtures.spark import _require_spark
from tests.integration.delegate_repo import Delegate, Trained, check_training_rows, run_delegate_repo

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # Feast: "an experimental feature"



@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The active SparkSession, or a local one started (and stopped) here."""
    _require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    conf = {"spark.master": "local[1]", "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "2", "spark.sql.session.timeZone": "UTC", "spark.driver.memory": "1g",
            "spark.local.dir": str(tmp_path_factory.mktemp("spark-local")),
            "spark.pyspark.python": sys.executable, "spark.pyspark.driver.python": sys.executable}
    builder = SparkSession.builder.appName("feast-pinot-spark-delegate")
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        session.stop()


def _write_parquet(root: Path, table: str, rows: pd.DataFrame) -> None:
    # Spark reads microsecond Parquet timestamps (pandas writes nanoseconds by default)
    rows.to_parquet(root / "data" / f"{table}.parquet", index=False, coerce_timestamps="us")


def _spark_delegate(root: Path) -> Delegate:
    source = ('SparkSource(name="{0}", path="' + str(root / "data") + '/{0}.parquet", file_format="parquet", '
              'timestamp_field="event_timestamp")')
    return Delegate(
        block={"type": "spark", "spark_conf": {"spark.master": "local[1]"}},
        imports="from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource",
        profile_source=source.format("member_profile"),
        jobs_source=source.format("job_attributes"),
        write=_write_parquet,
        cli=False,
    )


@pytest.fixture(scope="module")
def spark_trained(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Trained:
    root = tmp_path_factory.mktemp("spark-delegate") / "repo"
    return run_delegate_repo(root, _spark_delegate(root))


def test_spark_delegate_trains_batch_and_windowed_features_like_online(spark_trained: Trained) -> None:
    check_training_rows(spark_trained)


def test_the_delegate_ran_in_the_tests_spark_session(spark_trained: Trained, spark: Any) -> None:
    from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkRetrievalJob

    store, entity_df = spark_trained.store, spark_trained.entity_df
    job = store.get_historical_features(entity_df=entity_df.drop(columns="request_ts"),
                                        features=["member_profile:seniority"])
    native = job._delegated()  # type: ignore[attr-defined]  # the call's own job: Spark's, on this session
    assert isinstance(native, SparkRetrievalJob)
    assert native.to_spark_df().sparkSession is spark
    assert sorted(native.to_df()["seniority"].dropna().tolist()) == sorted(job.to_df()["seniority"].dropna().tolist())
