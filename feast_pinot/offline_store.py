"""Offline store: Feast's DuckDB store plus point-in-time action histories.

The Feast adapter over :mod:`feast_pinot.offline` (parts, history rebuild,
windowed engine).

``feature_store.yaml``::

    offline_store:
      type: feast_pinot.offline_store.ActionLogOfflineStore

* History views: for every entity row at time ``T``, the actor's actions with
  ``T - retention < ts <= T``, newest first, at most ``max_actions``, duplicates
  of an ``action_id`` counted once - the same rule the online stores apply at
  ``now``, so the windowed on-demand features see identical inputs. The
  attribute of a read-time join is taken as of ``T``.
* Windowed views: over a history with stored embeddings (or none), every
  family (windows, decay, seen, interests) is computed from the sorted log by
  :mod:`feast_pinot.offline.windows`; over a read-time-joined history, the
  view's own function runs on each row's rebuilt history. Both equal the
  online values. The seen features take the candidate key from the entity
  rows as given.
* Action logs: pushes with ``to=OFFLINE``/``ONLINE_AND_OFFLINE`` become Parquet
  part files under the log's path (:mod:`feast_pinot.offline.parts`).
* Everything else is Feast's DuckDB point-in-time join, with relative
  ``FileSource`` paths resolved against the feature repo (Feast's DuckDB store
  resolves them against the working directory).

Entity rows are never dropped; row order and duplicates are preserved.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from feast import FeatureView, FileSource, OnDemandFeatureView
from feast.data_source import DataSource
from feast.infra.offline_stores import duckdb as feast_duckdb
from feast.infra.offline_stores.ibis import (
    get_historical_features_ibis,
    pull_all_from_table_or_query_ibis,
    pull_latest_from_table_or_query_ibis,
)
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.infra.offline_stores.offline_utils import infer_event_timestamp_from_entity_df
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import RepoConfig
from feast.saved_dataset import SavedDatasetStorage

from feast_pinot import clock
from feast_pinot.actions import actions_to_table, datetime_to_ms, validate_push_rows
from feast_pinot.errors import ActionValidationError, OfflineStoreError
from feast_pinot.offline.history import ROW_ID as _ROW
from feast_pinot.offline.history import build_histories
from feast_pinot.offline.parts import action_log_columns, resolve_path, write_action_parts
from feast_pinot.offline.windows import SortedLogs, candidate_matrix, prefix_windowed_columns
from feast_pinot.specs import HISTORY_FEATURES, ActionLogSpec, HistorySpec, WindowedFeaturesSpec, spec_of
from feast_pinot.windows import request_times, windowed_features

__all__ = ["ActionLogOfflineStore", "ActionLogOfflineStoreConfig"]


class ActionLogOfflineStoreConfig(feast_duckdb.DuckDBOfflineStoreConfig):
    """Configuration of :class:`ActionLogOfflineStore` (DuckDB's options apply)."""

    type: Literal["feast_pinot.offline_store.ActionLogOfflineStore"] = (
        "feast_pinot.offline_store.ActionLogOfflineStore"
    )


def _read_source(data_source: DataSource, repo_path: str) -> Any:
    if isinstance(data_source, FileSource) and not data_source.path.startswith(("s3://", "gs://")):
        import ibis

        return ibis.read_parquet(resolve_path(repo_path, data_source.path))
    return feast_duckdb._read_data_source(data_source, repo_path)


def _ibis_options(config: RepoConfig) -> dict[str, Any]:
    return {
        "data_source_reader": _read_source,
        "data_source_writer": feast_duckdb._write_data_source,
        "staging_location": config.offline_store.staging_location,
        "staging_location_endpoint_override": config.offline_store.staging_location_endpoint_override,
    }


class _FrameJob(RetrievalJob):
    """A retrieval job over a frame built on demand; Feast applies the ODFVs."""

    def __init__(
        self,
        build: Callable[[], pd.DataFrame],
        odfvs: list[OnDemandFeatureView],
        full_feature_names: bool,
        metadata: RetrievalMetadata | None,
    ) -> None:
        self._build = build
        self._odfvs = odfvs
        self._full_feature_names = full_feature_names
        self._metadata = metadata

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._odfvs

    @property
    def metadata(self) -> RetrievalMetadata | None:
        return self._metadata

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._build()

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        table = pa.Table.from_pandas(self._build(), preserve_index=False)
        # pandas metadata would name Arrow-backed dtypes that to_pandas() cannot rebuild
        return table.replace_schema_metadata(None)

    def persist(
        self, storage: SavedDatasetStorage, allow_overwrite: bool = False, timeout: int | None = None
    ) -> None:
        path = storage.to_data_source().path  # type: ignore[attr-defined]
        if os.path.exists(path) and not allow_overwrite:
            raise OfflineStoreError(f"{path} exists; pass allow_overwrite=True to replace it")
        pq.write_table(self.to_arrow(), path)


class ActionLogOfflineStore(feast_duckdb.DuckDBOfflineStore):
    """DuckDB offline store that also rebuilds action histories point-in-time."""

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
        if not isinstance(entity_df, pd.DataFrame):
            raise OfflineStoreError("entity_df must be a pandas DataFrame (SQL is not supported)")
        _reject_logs(feature_views)
        histories = [fv for fv in feature_views if isinstance(spec_of(fv), HistorySpec)]
        others = [fv for fv in feature_views if fv not in histories]
        history_refs = {f"{fv.projection.name_to_use()}:" for fv in histories}
        other_refs = [r for r in feature_refs if not r.startswith(tuple(history_refs))]
        ts_column = infer_event_timestamp_from_entity_df(dict(zip(entity_df.columns, entity_df.dtypes)))
        rows = entity_df.reset_index(drop=True).assign(**{_ROW: range(len(entity_df))})

        def build() -> pd.DataFrame:
            frame = rows
            if others:
                frame = get_historical_features_ibis(
                    config=config, feature_views=others, feature_refs=other_refs,
                    entity_df=rows, registry=registry, project=project,
                    full_feature_names=full_feature_names,
                    filter_by_created_timestamp=filter_by_created_timestamp,
                    **_ibis_options(config),
                )._to_arrow_internal()
                frame = _arrow_lists_frame(frame).sort_values(_ROW, kind="stable").reset_index(drop=True)
            for fv in histories:
                if fv.name not in feeding:  # lists are returned only when asked for alone
                    built = build_histories(config, fv, feature_refs, rows, ts_column, full_feature_names)
                    frame = frame.merge(built, on=_ROW, how="left", sort=False)
            # each history's log is read once for all its windowed views
            with_objects = {spec.history for _, spec in windowed if spec.seen is not None}
            req = _Request(config, rows, ts_column, feature_refs, full_feature_names,
                           SortedLogs(config, with_objects))
            for odfv, spec in windowed:
                frame = _add_windowed(frame, odfv, feeding[spec.history], req)
            return frame.drop(columns=[_ROW])

        odfvs = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        # Windowed views are computed here with the same function the online path
        # runs; Feast applies the remaining ODFVs as usual.
        windowed = [(o, spec) for o in odfvs if (spec := spec_of(o, WindowedFeaturesSpec)) is not None]
        odfvs = [o for o in odfvs if spec_of(o, WindowedFeaturesSpec) is None]
        # Histories that feed a requested windowed view are never built as lists:
        # the windows are computed from the log directly (see offline.windows).
        feeding = {fv.name: fv for fv in histories if any(spec.history == fv.name for _, spec in windowed)}
        times = pd.to_datetime(entity_df[ts_column], utc=True) if len(entity_df) else None
        metadata = RetrievalMetadata(
            features=feature_refs,
            keys=[c for c in entity_df.columns if c != ts_column],
            min_event_timestamp=None if times is None else times.min().to_pydatetime(),
            max_event_timestamp=None if times is None else times.max().to_pydatetime(),
        )
        return _FrameJob(build, odfvs, full_feature_names, metadata)

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
        return _pull(
            pull_latest_from_table_or_query_ibis, config, data_source, join_key_columns,
            feature_name_columns, timestamp_field, created_timestamp_column, start_date, end_date,
        )

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
        return _pull(
            pull_all_from_table_or_query_ibis, config, data_source, join_key_columns,
            feature_name_columns, timestamp_field, created_timestamp_column, start_date, end_date,
        )

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        spec = spec_of(feature_view)
        if not isinstance(spec, ActionLogSpec):
            feast_duckdb.DuckDBOfflineStore.offline_write_batch(config, feature_view, table, progress)
            return
        # Feast's store.push(..., to=OFFLINE/ONLINE_AND_OFFLINE): the rules of
        # the online write, so both stores accept the same actions with the same ids.
        actions, problems = validate_push_rows(_push_rows(table, spec), spec, clock.now_ms())
        if problems:
            raise ActionValidationError(problems)
        write_action_parts(resolve_path(config.repo_path, spec.path), actions_to_table(actions, spec), spec)
        if progress:
            progress(table.num_rows)

    def validate_data_source(self, config: RepoConfig, data_source: DataSource) -> None:
        spec = spec_of(data_source)
        if isinstance(spec, ActionLogSpec):
            # An action log starts empty: its folder is made, not required.
            Path(resolve_path(config.repo_path, spec.path)).mkdir(parents=True, exist_ok=True)
            return
        super().validate_data_source(config, data_source)

    def get_table_column_names_and_types_from_data_source(
        self, config: RepoConfig, data_source: DataSource
    ) -> list[tuple[str, str]]:
        spec = spec_of(data_source)
        if isinstance(spec, ActionLogSpec):
            return list(action_log_columns(spec).items())
        if isinstance(data_source, FileSource):
            schema = pq.read_schema(resolve_path(config.repo_path, data_source.path))
            return [(f.name, str(f.type)) for f in schema]
        return list(super().get_table_column_names_and_types_from_data_source(config, data_source))


@dataclass(frozen=True)
class _Request:
    """What every windowed view of one get_historical_features call needs."""

    config: RepoConfig
    rows: pd.DataFrame  # the entity rows with their ROW_ID
    ts_column: str
    feature_refs: list[str]
    full_names: bool
    logs: SortedLogs

    def column(self, view: str, feature: str) -> str:
        return f"{view}__{feature}" if self.full_names else feature


def _add_windowed(
    frame: pd.DataFrame, odfv: OnDemandFeatureView, history: FeatureView, req: _Request
) -> pd.DataFrame:
    spec = spec_of(odfv)
    hspec = spec_of(history)
    if not isinstance(spec, WindowedFeaturesSpec) or not isinstance(hspec, HistorySpec):
        raise OfflineStoreError(f"'{odfv.name}' is not a windowed view of a history")
    if spec.request_field not in frame.columns:
        raise OfflineStoreError(
            f"'{odfv.name}' needs the entity_df column '{spec.request_field}' "
            "(add it with feast_pinot.with_request_ts)"
        )
    view = odfv.projection.name_to_use()
    wanted = [r.split(":", 1)[1] for r in req.feature_refs if r.startswith(f"{view}:")]
    candidates = frame[req.column(*spec.candidate.split("__", 1))] if spec.candidate else None
    request_ts = request_times(frame[spec.request_field].to_numpy(), spec.request_field)
    if hspec.attribute is None:
        matrix = None if candidates is None else candidate_matrix(
            pa.array(candidates, type=pa.list_(pa.float32()), from_pandas=True), len(frame), spec.embedding_dim)
        keys = None if spec.seen is None else _candidate_keys(req.rows, spec.seen.candidate_key)
        computed = prefix_windowed_columns(
            req.logs, hspec, spec, req.rows, req.ts_column, request_ts, matrix, keys, wanted)
    else:  # attributes as of each row's time: run the view on the row's full history
        listed = None if candidates is None else candidates.tolist()
        computed = _windowed_from_histories(spec, history, frame, req, request_ts, listed, wanted)
    return frame.assign(**{req.column(view, name): values for name, values in computed.items()})


def _windowed_from_histories(
    spec: WindowedFeaturesSpec, history: FeatureView, frame: pd.DataFrame, req: _Request,
    request_ts: Any, candidates: list[Any] | None, wanted: list[str],
) -> dict[str, Any]:
    prefix = f"{history.projection.name_to_use()}:"
    refs = [prefix + f for f in HISTORY_FEATURES]
    lists = build_histories(req.config, history, refs, req.rows, req.ts_column, full_feature_names=True)
    inputs = {key: lists[key].tolist() for key in lists.columns if key != _ROW}
    inputs[spec.request_field] = list(request_ts)
    if spec.candidate:
        inputs[spec.candidate] = candidates or []
    if spec.seen is not None:
        inputs[spec.seen.candidate_key] = _candidate_keys(req.rows, spec.seen.candidate_key)
    computed = windowed_features(inputs, spec.model_dump_json())
    return {name: computed[name] for name in wanted}


def _candidate_keys(rows: pd.DataFrame, column: str) -> list[Any]:
    # From the entity rows as given: Feast's join turns a nullable Int64 column
    # with a missing key into floats, which would match no integer key.
    if column not in rows.columns:
        raise OfflineStoreError(f"the seen features need the entity_df column '{column}' (the candidate's key)")
    return [None if pd.isna(v) else v for v in rows[column].tolist()]


def _arrow_lists_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame whose list columns stay Arrow-backed (no per-row Python lists)."""
    return table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)


def _reject_logs(feature_views: list[FeatureView]) -> None:
    for fv in feature_views:
        if isinstance(spec_of(fv), ActionLogSpec):
            raise OfflineStoreError(
                f"'{fv.name}' is an action log: read it through an action_history view"
            )


def _pull(
    pull: Callable[..., RetrievalJob],
    config: RepoConfig,
    data_source: DataSource,
    join_key_columns: list[str],
    feature_name_columns: list[str],
    timestamp_field: str,
    created_timestamp_column: str | None,
    start_date: datetime | None,
    end_date: datetime | None,
) -> RetrievalJob:
    if isinstance(spec_of(data_source), ActionLogSpec):
        # Actions reach the online store by push; materializing "latest per
        # actor" would store one arbitrary action per member.
        return _empty_job(join_key_columns + feature_name_columns + [timestamp_field])
    return pull(
        config=config, data_source=data_source, join_key_columns=join_key_columns,
        feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
        created_timestamp_column=created_timestamp_column, start_date=start_date,
        end_date=end_date, **_ibis_options(config),
    )


def _empty_job(columns: list[str]) -> RetrievalJob:
    return _FrameJob(lambda: pd.DataFrame({c: [] for c in columns}), [], False, None)


def _push_rows(table: pa.Table, spec: ActionLogSpec) -> list[dict[str, Any]]:
    names = [n for n in action_log_columns(spec) if n in table.column_names]
    rows = table.select(names).to_pylist()
    for row in rows:
        ts = row.get("event_timestamp")
        row["event_timestamp"] = None if ts is None else datetime_to_ms(ts)
    return rows
