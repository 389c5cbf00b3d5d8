"""Feast's DuckDB offline store with ``FileSource`` paths relative to the feature repo.

The default delegate of :class:`~feast_pinot.offline.ActionLogOfflineStore`
(``delegate: {type: duckdb}``, or no delegate). Feast's DuckDB store reads a
relative path against the working directory, so a repo used from another
directory (``FeatureStore(repo_path=...)``, a notebook, a scheduler) would not
find its files; Feast's docs define the path as relative to the repo, and so
does this store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from feast import FeatureView, FileSource
from feast.data_source import DataSource
from feast.infra.offline_stores import duckdb as feast_duckdb
from feast.infra.offline_stores.ibis import (
    get_historical_features_ibis,
    pull_all_from_table_or_query_ibis,
    pull_latest_from_table_or_query_ibis,
)
from feast.infra.offline_stores.offline_store import RetrievalJob
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import RepoConfig

from feast_pinot.feast_internals import offline as feast_internals
from feast_pinot.offline.parts import resolve_path
from feast_pinot.offline.versions import created_flag

__all__ = ["RepoDuckDBOfflineStore"]


def _read_source(data_source: DataSource, repo_path: str) -> Any:
    if isinstance(data_source, FileSource) and not data_source.path.startswith(("s3://", "gs://")):
        import ibis

        return ibis.read_parquet(resolve_path(repo_path, data_source.path))
    return feast_internals.read_data_source(data_source, repo_path)


def _ibis_options(config: RepoConfig) -> dict[str, Any]:
    return {
        "data_source_reader": _read_source,
        "data_source_writer": feast_internals.write_data_source,
        "staging_location": config.offline_store.staging_location,
        "staging_location_endpoint_override": config.offline_store.staging_location_endpoint_override,
    }


class RepoDuckDBOfflineStore(feast_duckdb.DuckDBOfflineStore):
    """Feast's DuckDB store; relative ``FileSource`` paths are read from the feature repo."""

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        options: dict[str, Any] = {**_ibis_options(config), **created_flag(filter_by_created_timestamp)}
        return get_historical_features_ibis(
            config=config, feature_views=feature_views, feature_refs=feature_refs, entity_df=entity_df,
            registry=registry, project=project, full_feature_names=full_feature_names, **options,
        )

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        return _pull(pull_latest_from_table_or_query_ibis, config, data_source, join_key_columns,
                     feature_name_columns, timestamp_field, created_timestamp_column, start_date, end_date)

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        return _pull(pull_all_from_table_or_query_ibis, config, data_source, join_key_columns,
                     feature_name_columns, timestamp_field, created_timestamp_column, start_date, end_date)

    def get_table_column_names_and_types_from_data_source(
        self, config: RepoConfig, data_source: DataSource
    ) -> Iterable[tuple[str, str]]:
        if isinstance(data_source, FileSource):
            schema = pq.read_schema(resolve_path(config.repo_path, data_source.path))
            return [(f.name, str(f.type)) for f in schema]
        return super().get_table_column_names_and_types_from_data_source(config, data_source)


def _pull(pull: Callable[..., RetrievalJob], config: RepoConfig, data_source: DataSource,
          join_key_columns: list[str], feature_name_columns: list[str], timestamp_field: str,
          created_timestamp_column: str | None, start_date: datetime | None,
          end_date: datetime | None) -> RetrievalJob:
    return pull(
        config=config, data_source=data_source, join_key_columns=join_key_columns,
        feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
        created_timestamp_column=created_timestamp_column, start_date=start_date,
        end_date=end_date, **_ibis_options(config),
    )
