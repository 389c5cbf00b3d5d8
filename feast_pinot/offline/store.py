"""Offline store: Feast's DuckDB store plus point-in-time action histories.

The Feast adapter over :mod:`feast_pinot.offline` (parts, plan, history
rebuild, windowed engine).

``feature_store.yaml``::

    offline_store:
      type: feast_pinot.offline.ActionLogOfflineStore

(``feast_pinot.offline_store.ActionLogOfflineStore``, the path of earlier
releases, names the same store.)

* History views: for every entity row at time ``T``, the actor's actions with
  ``T - retention < ts <= T``, newest first, at most ``max_actions``, duplicates
  of an ``action_id`` counted once - the same rule the online stores apply at
  ``now``. The attribute of a read-time join is taken as of ``T``.
* Windowed views: over a history with stored embeddings (or none), the engine
  of :mod:`feast_pinot.offline.engine` feeds the families of
  :mod:`feast_pinot.features` (the code the online path runs) from the sorted
  log; over a read-time-joined history, the view's own body runs on each
  row's rebuilt history. The seen features take the candidate key from the
  entity rows as given.
* Action logs: pushes with ``to=OFFLINE``/``ONLINE_AND_OFFLINE`` become Parquet
  part files under the log's path (:mod:`feast_pinot.offline.parts`).
* Everything else is Feast's DuckDB point-in-time join, with relative
  ``FileSource`` paths resolved against the feature repo (Feast's DuckDB store
  resolves them against the working directory).

Entity rows are never dropped; row order and duplicates are preserved.
"""

from __future__ import annotations

import functools
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
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import RepoConfig
from feast.saved_dataset import SavedDatasetStorage

from feast_pinot import clock
from feast_pinot.actions import actions_to_table, datetime_to_ms, validate_push_rows
from feast_pinot.errors import ActionValidationError, OfflineStoreError
from feast_pinot.feast_internals import offline as feast_internals
from feast_pinot.features import windowed_features
from feast_pinot.offline import spark as spark_engine
from feast_pinot.offline.engine import EntityRows, windowed_columns
from feast_pinot.offline.history import build_histories
from feast_pinot.offline.log import LogCache
from feast_pinot.offline.parts import action_log_columns, resolve_path, write_action_parts
from feast_pinot.offline.plan import ROW_ID, EntityPlan
from feast_pinot.offline.spark.config import SparkEngineConfig
from feast_pinot.specs import HISTORY_FEATURES, ActionLogSpec, HistorySpec, WindowedFeaturesSpec, spec_of

__all__ = ["ActionLogOfflineStore", "ActionLogOfflineStoreConfig"]


class ActionLogOfflineStoreConfig(feast_duckdb.DuckDBOfflineStoreConfig):
    """Configuration of :class:`ActionLogOfflineStore` (DuckDB's options apply)."""

    type: Literal["feast_pinot.offline.ActionLogOfflineStore", "feast_pinot.offline_store.ActionLogOfflineStore"] = (
        "feast_pinot.offline.ActionLogOfflineStore"
    )
    # the engine of the action-log features: DuckDB on this machine, or Spark (feast_pinot.offline.spark)
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkEngineConfig = SparkEngineConfig()


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


@dataclass(frozen=True)
class _Call:
    """One get_historical_features call: the views by kind, resolved once."""

    config: RepoConfig
    registry: BaseRegistry
    project: str
    feature_refs: list[str]
    full_names: bool
    filter_by_created_timestamp: bool
    histories: list[FeatureView]  # every history view requested, or feeding a windowed view
    others: list[FeatureView]  # ordinary views: Feast's join
    windowed: list[tuple[OnDemandFeatureView, WindowedFeaturesSpec]]
    odfvs: list[OnDemandFeatureView]  # the other on-demand views: Feast applies them

    @classmethod
    def of(cls, config: RepoConfig, feature_views: list[FeatureView], feature_refs: list[str],
           registry: BaseRegistry, project: str, full_names: bool, filter_by_created: bool) -> _Call:
        _reject_logs(feature_views)
        odfvs = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        windowed = [(o, spec) for o in odfvs if (spec := spec_of(o, WindowedFeaturesSpec)) is not None]
        histories = [fv for fv in feature_views if isinstance(spec_of(fv), HistorySpec)]
        others = [fv for fv in feature_views if fv not in histories]
        return cls(config, registry, project, feature_refs, full_names, filter_by_created, histories, others,
                   windowed, [o for o in odfvs if spec_of(o, WindowedFeaturesSpec) is None])

    def history(self, name: str) -> FeatureView:
        for view in self.histories:
            if view.name == name:
                return view
        raise OfflineStoreError(f"history '{name}' is not among the views of this request")

    def wanted(self, view: str) -> list[str]:
        return [ref.split(":", 1)[1] for ref in self.feature_refs if ref.split(":", 1)[0] == view]

    def column(self, view: str, feature: str) -> str:
        return f"{view}__{feature}" if self.full_names else feature

    @property
    def feeding(self) -> set[str]:
        """Histories that feed a windowed view: their windows come from the log, never from lists."""
        return {spec.history for _, spec in self.windowed}


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
        call = _Call.of(config, feature_views, feature_refs, registry, project, full_feature_names,
                        filter_by_created_timestamp)
        if config.offline_store.engine == "spark":
            join = functools.partial(_feast_join, call)
            return spark_engine.historical_features(call, entity_df, config.offline_store.spark, join)
        if not isinstance(entity_df, pd.DataFrame):
            raise OfflineStoreError("entity_df must be a pandas DataFrame with engine 'duckdb' (Spark DataFrames "
                                    "and SQL: engine 'spark')")
        plan = EntityPlan.of(entity_df)
        times = pd.to_datetime(plan.rows[plan.ts_column], utc=True) if len(plan) else None
        metadata = RetrievalMetadata(
            features=feature_refs,
            keys=[c for c in entity_df.columns if c != plan.ts_column],
            min_event_timestamp=None if times is None else times.min().to_pydatetime(),
            max_event_timestamp=None if times is None else times.max().to_pydatetime(),
        )
        return _FrameJob(functools.partial(_build, call, plan), call.odfvs, full_feature_names, metadata)

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


def _build(call: _Call, plan: EntityPlan) -> pd.DataFrame:
    """The training frame: Feast's join of the ordinary views, then the histories and windowed views."""
    frame = plan.rows
    if call.others:
        frame = _feast_join(call, plan)
    for view in call.histories:
        if view.name not in call.feeding:  # lists are returned only when asked for alone
            name = view.projection.name_to_use()
            wanted = call.wanted(name)
            built = build_histories(call.config, view, wanted, plan, {f: call.column(name, f) for f in wanted})
            frame = frame.merge(built, on=ROW_ID, how="left", sort=False)
    logs = LogCache(call.config, {spec.history for _, spec in call.windowed if spec.seen is not None})
    for odfv, spec in call.windowed:
        frame = _add_windowed(call, plan, logs, frame, odfv, spec)
    return frame.drop(columns=[ROW_ID])


def _feast_join(call: _Call, plan: EntityPlan) -> pd.DataFrame:
    history_refs = tuple(f"{fv.projection.name_to_use()}:" for fv in call.histories)
    table = get_historical_features_ibis(
        config=call.config, feature_views=call.others,
        feature_refs=[r for r in call.feature_refs if not r.startswith(history_refs)],
        entity_df=plan.rows, registry=call.registry, project=call.project, full_feature_names=call.full_names,
        filter_by_created_timestamp=call.filter_by_created_timestamp, **_ibis_options(call.config),
    )._to_arrow_internal()
    return _arrow_lists_frame(table).sort_values(ROW_ID, kind="stable").reset_index(drop=True)


def _add_windowed(call: _Call, plan: EntityPlan, logs: LogCache, frame: pd.DataFrame, odfv: OnDemandFeatureView,
                  spec: WindowedFeaturesSpec) -> pd.DataFrame:
    history = call.history(spec.history)
    hspec = spec_of(history, HistorySpec)
    if hspec is None:
        raise OfflineStoreError(f"'{odfv.name}' is not a windowed view of a history")
    view = odfv.projection.name_to_use()
    needed_by = f"'{odfv.name}'"
    request_ts = plan.request_ts(spec.request_field, needed_by)
    wanted = call.wanted(view)
    candidates = frame[call.column(*spec.candidate.split("__", 1))] if spec.candidate else None
    keys = None if spec.seen is None else plan.keys(spec.seen.candidate_key, f"the seen features of {needed_by}")
    if hspec.attribute is None:
        entities = plan.entities(history, hspec.log)
        arrow = None if candidates is None else pa.array(candidates, type=pa.list_(pa.float32()), from_pandas=True)
        rows = EntityRows(entities["actor"].to_numpy(), plan.t, request_ts, arrow, keys)
        computed = windowed_columns(logs.of(hspec, entities[["actor"]]), hspec, spec, rows, wanted)
    else:  # attributes as of each row's time: run the view on the row's full history
        listed = None if candidates is None else candidates.tolist()
        computed = _windowed_from_histories(call, plan, spec, history, request_ts, listed, keys, wanted)
    return frame.assign(**{call.column(view, name): values for name, values in computed.items()})


def _windowed_from_histories(call: _Call, plan: EntityPlan, spec: WindowedFeaturesSpec, history: FeatureView,
                             request_ts: Any, candidates: list[Any] | None, keys: list[Any] | None,
                             wanted: list[str]) -> dict[str, Any]:
    lists = build_histories(call.config, history, list(HISTORY_FEATURES), plan,
                            {f: f"{spec.history}__{f}" for f in HISTORY_FEATURES})
    inputs = {key: lists[key].tolist() for key in lists.columns if key != ROW_ID}
    inputs[spec.request_field] = list(request_ts)
    if spec.candidate:
        inputs[spec.candidate] = candidates or []
    if spec.seen is not None:
        inputs[spec.seen.candidate_key] = keys or []
    computed = windowed_features(inputs, spec.model_dump_json())
    return {name: computed[name] for name in wanted}


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
