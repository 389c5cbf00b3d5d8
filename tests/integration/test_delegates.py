"""The team's offline store stays: Feast's DuckDB and PostgreSQL stores as the delegate of the ordinary views.

Each runs the real CLI (``feast apply``, ``feast materialize``), the pushes, the
online reads, and ``get_historical_features`` mixing the delegate's batch
features with windowed features (tests/integration/delegate_repo.py).
PostgreSQL is a real server from Debian's packages (tests/fixtures/postgres.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import yaml
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
    SavedDatasetPostgreSQLStorage,
)
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage

from feast_pinot.errors import OfflineStoreError
from local_cluster.postgres import PostgresServer
from tests.integration.conftest import FEAST_CLI
from tests.integration.delegate_repo import (
    Delegate,
    Trained,
    check_training_rows,
    features,
    run_delegate_repo,
    write_repo,
)

# Feast's PostgreSQL store warns that it is contrib code; the warning says nothing about these tests.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _write_parquet(root: Path, table: str, rows: pd.DataFrame) -> None:
    rows.to_parquet(root / "data" / f"{table}.parquet", index=False)


DUCKDB = Delegate(
    block={"type": "duckdb"},
    imports="from feast import FileSource",
    profile_source='FileSource(name="profiles", path="data/member_profile.parquet", timestamp_field="event_timestamp")',
    jobs_source='FileSource(name="jobs", path="data/job_attributes.parquet", timestamp_field="event_timestamp")',
    write=_write_parquet,
)

_PG_TYPES = {"member_id": "bigint", "job_id": "bigint", "seniority": "bigint", "score": "real",
             "embedding": "real[]", "event_timestamp": "timestamptz"}


def _pg_block(server: PostgresServer, schema: str) -> dict[str, Any]:
    return {"type": "postgres", "host": server.host, "port": server.port, "database": server.database,
            "db_schema": schema, "user": server.user, "password": "unused", "sslmode": "disable"}


def _pg_connect(server: PostgresServer) -> psycopg.Connection[Any]:
    return psycopg.connect(host=server.host, port=server.port, user=server.user, dbname=server.database,
                           sslmode="disable", autocommit=True)


def _pg_delegate(server: PostgresServer, schema: str) -> Delegate:
    def write(root: Path, table: str, rows: pd.DataFrame) -> None:
        columns = ", ".join(f'"{c}" {_PG_TYPES[c]}' for c in rows.columns)
        with _pg_connect(server) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'CREATE TABLE "{schema}"."{table}" ({columns})')
            with conn.cursor() as cur:
                values = [[v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row]
                          for row in rows.astype(object).itertuples(index=False)]
                cur.executemany(f'INSERT INTO "{schema}"."{table}" VALUES ({", ".join(["%s"] * len(rows.columns))})',
                                values)

    source = ('PostgreSQLSource(name="{0}", query="SELECT * FROM \\"{1}\\".\\"{0}\\"", '
              'timestamp_field="event_timestamp")')
    return Delegate(
        block=_pg_block(server, schema),
        imports=("from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import "
                 "PostgreSQLSource"),
        profile_source=source.format("member_profile", schema),
        jobs_source=source.format("job_attributes", schema),
        write=write,
    )


@pytest.fixture(scope="module")
def duckdb_trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return run_delegate_repo(tmp_path_factory.mktemp("duckdb-delegate") / "repo", DUCKDB)


@pytest.fixture(scope="module")
def postgres_trained(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Trained:
    return run_delegate_repo(tmp_path_factory.mktemp("postgres-delegate") / "repo",
                             _pg_delegate(postgres_server, "delegated"))


def test_duckdb_delegate_trains_batch_and_windowed_features_like_online(duckdb_trained: Trained) -> None:
    check_training_rows(duckdb_trained)


def test_postgres_delegate_trains_batch_and_windowed_features_like_online(postgres_trained: Trained) -> None:
    check_training_rows(postgres_trained)


def test_postgres_delegate_gives_the_duckdb_delegates_rows(duckdb_trained: Trained, postgres_trained: Trained) -> None:
    pd.testing.assert_frame_equal(postgres_trained.offline, duckdb_trained.offline, check_dtype=False)


def test_ordinary_views_alone_are_the_delegates_job_with_its_saved_datasets(
    postgres_trained: Trained, postgres_server: PostgresServer
) -> None:
    store, entity_df = postgres_trained.store, postgres_trained.entity_df
    refs = ["member_profile:seniority", "member_profile:score"]  # Feast's PostgreSQL persist takes no float lists
    job = store.get_historical_features(entity_df=entity_df.drop(columns="request_ts"), features=refs)
    rows = job.to_df()
    assert rows["member_id"].tolist() == entity_df["member_id"].tolist()  # the order kept here too
    store.create_saved_dataset(from_=job, name="profiles", storage=SavedDatasetPostgreSQLStorage(
        table_ref="saved_profiles"))  # in the delegate's db_schema
    with _pg_connect(postgres_server) as conn:  # the delegate wrote its own table
        count = conn.execute('SELECT count(*) FROM "delegated"."saved_profiles"').fetchone()
    assert count == (len(entity_df),)
    saved = store.get_saved_dataset("profiles").to_df()
    key = ["member_id", "event_timestamp"]  # the saved dataset keeps the view's join keys: rows of one key are equal
    want = rows.sort_values(key).reset_index(drop=True)
    got = saved.sort_values(key).reset_index(drop=True)
    assert got["seniority"].fillna(-1).tolist() == want["seniority"].fillna(-1).tolist()  # no profile yet: null
    assert got["score"].fillna(-1).tolist() == want["score"].fillna(-1).tolist()
    assert want["seniority"].notna().sum() >= len(want) // 2


def test_training_data_with_windowed_features_is_saved_as_parquet_only(
    postgres_trained: Trained, tmp_path: Path
) -> None:
    store, entity_df = postgres_trained.store, postgres_trained.entity_df
    job = store.get_historical_features(entity_df=entity_df, features=features(), full_feature_names=True)
    with pytest.raises(OfflineStoreError, match="saved as Parquet .*not in SavedDatasetPostgreSQLStorage"):
        job.persist(SavedDatasetPostgreSQLStorage(table_ref="not_written"))
    path = tmp_path / "training.parquet"
    store.create_saved_dataset(from_=job, name="training", storage=SavedDatasetFileStorage(path=str(path)))
    saved = pd.read_parquet(path)
    assert saved["member_id"].tolist() == entity_df["member_id"].tolist()
    assert saved["acts_win__a_count_96h"].tolist() == postgres_trained.offline["acts_win__a_count_96h"].tolist()


def _feast_apply_fails(root: Path, offline_store: dict[str, Any]) -> str:
    config = yaml.safe_load((root / "feature_store.yaml").read_text())
    config["offline_store"] = offline_store
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    done = subprocess.run([FEAST_CLI, "apply"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout
    return done.stdout + done.stderr


def test_feast_apply_with_a_store_that_cannot_read_action_logs_names_the_fix(tmp_path: Path) -> None:
    """The user story: `type: duckdb` standing in for "our existing store" fails at apply, saying what to write."""
    write_repo(tmp_path / "repo", DUCKDB)
    out = _feast_apply_fails(tmp_path / "repo", {"type": "duckdb"})
    assert ("offline_store type 'duckdb' cannot read action logs (acts, light): use "
            "'type: feast_pinot.offline.ActionLogOfflineStore' and keep your store as its delegate") \
        in " ".join(out.split())  # the CLI wraps long lines


def test_feast_apply_names_a_misspelt_delegate_key(tmp_path: Path) -> None:
    write_repo(tmp_path / "repo", DUCKDB)
    out = _feast_apply_fails(tmp_path / "repo", {"type": "feast_pinot.offline.ActionLogOfflineStore",
                                                 "delegate": {"type": "duckdb", "staging_locaton": "s3://b"}})
    assert "offline_store.delegate.staging_locaton: Extra inputs are not permitted" in out
