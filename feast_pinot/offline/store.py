"""Offline store: the team's own Feast offline store for ordinary views, plus point-in-time action features.

The Feast adapter over :mod:`feast_pinot.offline` (parts, plan, engines).

``feature_store.yaml``::

    offline_store:
      type: feast_pinot.offline.ActionLogOfflineStore
      delegate:                  # optional: the store of the ordinary views (default: duckdb)
        type: snowflake.offline  # any Feast offline store's own block
        ...
      engine: duckdb             # optional: what computes the action-log views

(``feast_pinot.offline_store.ActionLogOfflineStore``, the path of earlier
releases, names the same store.)

* Ordinary feature views go to the delegate (:mod:`feast_pinot.offline.delegate`):
  its point-in-time join, ``materialize``, ``pull_latest``/``pull_all``,
  data-source validation and schema inference, offline writes, saved datasets.
  Without a delegate it is Feast's DuckDB store with relative ``FileSource``
  paths resolved against the feature repo.
* Action logs are this store's: histories and windowed views are computed by
  the engine (:mod:`feast_pinot.offline.engines`) and joined to the delegate's
  rows by row number, so a delegate that returns rows in another order (or
  leaves some out) changes nothing: entity rows are never dropped, their order
  and duplicates are kept.

  - History views: for every entity row at time ``T``, the actor's actions with
    ``T - retention < ts <= T``, newest first, at most ``max_actions``,
    duplicates of an ``action_id`` counted once - the same rule the online
    stores apply at ``now``. The attribute of a read-time join is taken as of ``T``.
  - Windowed views: the families of :mod:`feast_pinot.features` (the code the
    online path runs) over the rebuilt histories. The candidate embedding is
    the delegate's value of the view's candidate feature; the seen features
    take the candidate key from the entity rows as given.
  - Pushes with ``to=OFFLINE``/``ONLINE_AND_OFFLINE`` become Parquet part files
    under the log's path (:mod:`feast_pinot.offline.parts`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from feast import FeatureView, FileSource, OnDemandFeatureView
from feast.data_source import DataSource
from feast.feature_logging import LoggingConfig, LoggingSource
from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
from feast.infra.offline_stores.offline_store import OfflineStore, RetrievalJob, RetrievalMetadata
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.saved_dataset import SavedDatasetStorage
from pydantic import ConfigDict, Field, SerializeAsAny, field_validator, model_validator

from feast_pinot import clock
from feast_pinot.actions import actions_to_table, datetime_to_ms, validate_push_rows
from feast_pinot.errors import ActionValidationError, OfflineStoreError, OfflineWriteError
from feast_pinot.offline.delegate import delegate_config, delegate_repo_config, delegate_store
from feast_pinot.offline.engines import (
    ENGINES,
    ActionEngine,
    ActionRequest,
    ClusterFrames,
    HistoryAsk,
    WindowedAsk,
    engine_named,
)
from feast_pinot.offline.parts import action_log_columns, resolve_path, write_action_parts
from feast_pinot.offline.plan import ROW_ID, EntityPlan
from feast_pinot.offline.required import STORE_TYPE
from feast_pinot.offline.spark.config import SparkEngineConfig
from feast_pinot.offline.storage import open_log
from feast_pinot.offline.versions import created_flag, requested_odfvs
from feast_pinot.specs import ActionLogSpec, HistorySpec, WindowedFeaturesSpec, spec_of

__all__ = ["ActionLogOfflineStore", "ActionLogOfflineStoreConfig"]

# DuckDB's options, taken at the top level before the delegate existed: they configure the default delegate
_DUCKDB_KEYS = ("staging_location", "staging_location_endpoint_override")


class ActionLogOfflineStoreConfig(FeastConfigBaseModel):
    """Configuration of :class:`ActionLogOfflineStore`.

    Any other attribute is the delegate's (``config.offline_store.spark_conf``
    of a Spark delegate): Feast's timestamp inference hands a data source the
    repo's offline config, and the data source reads its own store's settings.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["feast_pinot.offline.ActionLogOfflineStore", "feast_pinot.offline_store.ActionLogOfflineStore"] = (
        STORE_TYPE  # type: ignore[assignment]
    )
    delegate: SerializeAsAny[FeastConfigBaseModel] = Field(default_factory=DuckDBOfflineStoreConfig)
    """The Feast offline store of the ordinary feature views: its own block, with its ``type``."""
    engine: str = "duckdb"
    """What computes the history and windowed views (one of ``feast_pinot.offline.engines.ENGINES``)."""
    spark: SparkEngineConfig = SparkEngineConfig()
    """The Spark engine's options (``engine: spark``)."""

    @model_validator(mode="before")
    @classmethod
    def _duckdb_keys_configure_the_default(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(key in data for key in _DUCKDB_KEYS):
            return data
        given = [key for key in _DUCKDB_KEYS if key in data]
        if data.get("delegate") is not None:
            raise ValueError(f"offline_store.{given[0]}: set it in offline_store.delegate, the store it configures")
        rest = {k: v for k, v in data.items() if k not in _DUCKDB_KEYS}
        return {**rest, "delegate": {"type": "duckdb", **{key: data[key] for key in given}}}

    @field_validator("delegate", mode="before")
    @classmethod
    def _load_delegate(cls, value: Any) -> Any:
        if value is None:
            return DuckDBOfflineStoreConfig()
        return value if isinstance(value, FeastConfigBaseModel) else delegate_config(value)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in ENGINES:
            raise ValueError(f"offline_store.engine: unknown engine '{value}' (known: {', '.join(sorted(ENGINES))})")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in type(self).model_fields:
            raise AttributeError(name)
        return getattr(self.delegate, name)


@dataclass(frozen=True)
class _Store:
    """A Feast offline store, and the repo config it is called with (its own ``offline_store``)."""

    store: OfflineStore
    config: RepoConfig


@dataclass(frozen=True)
class _Stores:
    """Who reads what: Parquet files (``FileSource``) this project's DuckDB, every other source the delegate.

    Warehouse stores refuse a ``FileSource``; DuckDB reads one wherever the
    delegate keeps the other views, so a repo can keep Parquet views (an
    attribute view of a read-time join, a saved dataset) beside them.
    """

    delegate: _Store
    files: _Store

    @classmethod
    def of(cls, config: RepoConfig) -> _Stores:
        offline = _store_config(config).delegate
        delegate = _Store(delegate_store(offline), delegate_repo_config(config, offline))
        if isinstance(offline, DuckDBOfflineStoreConfig):
            return cls(delegate, delegate)
        duckdb = DuckDBOfflineStoreConfig()
        return cls(delegate, _Store(delegate_store(duckdb), delegate_repo_config(config, duckdb)))

    def reading(self, source: DataSource | None) -> _Store:
        return self.files if isinstance(source, FileSource) else self.delegate


def _store_config(config: RepoConfig) -> ActionLogOfflineStoreConfig:
    found = config.offline_store
    if not isinstance(found, ActionLogOfflineStoreConfig):
        raise OfflineStoreError(f"ActionLogOfflineStore was called with the offline config of "
                                f"{type(found).__name__}: set 'type: {STORE_TYPE}' in feature_store.yaml")
    return found


class _FrameJob(RetrievalJob):
    """A retrieval job over a frame built on demand; Feast applies the ODFVs."""

    def __init__(
        self,
        build: Callable[[], pd.DataFrame],
        odfvs: list[OnDemandFeatureView],
        full_feature_names: bool,
        metadata: RetrievalMetadata | None,
        delegated: Callable[[], RetrievalJob] | None = None,
        frames: tuple[ClusterFrames, RepoConfig] | None = None,
    ) -> None:
        self._build = build
        self._frames = frames  # the engine's own system (Spark), when it has one
        self._odfvs = odfvs
        self._full_feature_names = full_feature_names
        self._metadata = metadata
        self._delegated = delegated  # the delegate's own job, for a call of ordinary views only

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

    def to_spark_df(self) -> Any:
        """The training data (on-demand views applied) as a Spark DataFrame: with ``engine: spark`` only."""
        if self._frames is None:
            raise OfflineStoreError("to_spark_df() needs offline_store.engine: spark")
        engine, config = self._frames
        return engine.result_frame(config, self.to_arrow())

    def persist(
        self, storage: SavedDatasetStorage, allow_overwrite: bool = False, timeout: int | None = None
    ) -> None:
        if self._frames is not None and self._frames[0].persist(self._frames[1], self.to_arrow(), storage,
                                                                allow_overwrite):
            return
        if isinstance(storage, SavedDatasetFileStorage):
            path = storage.file_options.uri
            if os.path.exists(path) and not allow_overwrite:
                raise OfflineStoreError(f"{path} exists; pass allow_overwrite=True to replace it")
            pq.write_table(self.to_arrow(), path)
        elif self._delegated is not None:
            self._delegated().persist(storage, allow_overwrite=allow_overwrite, timeout=timeout)
        else:
            raise OfflineStoreError(
                f"training data with action-log features is saved as Parquet (SavedDatasetFileStorage), "
                f"not in {type(storage).__name__}: the delegate's storage keeps what the delegate computes; "
                f"write job.to_arrow() to the warehouse with its own tools instead")


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
    others: list[FeatureView]  # ordinary views: the delegate's join
    windowed: list[tuple[OnDemandFeatureView, WindowedFeaturesSpec]]
    odfvs: list[OnDemandFeatureView]  # the other on-demand views: Feast applies them

    @classmethod
    def of(cls, config: RepoConfig, feature_views: list[FeatureView], feature_refs: list[str],
           registry: BaseRegistry, project: str, full_names: bool, filter_by_created: bool) -> _Call:
        _reject_logs(feature_views)
        odfvs = requested_odfvs(feature_refs, project, registry)
        windowed = [(o, spec) for o in odfvs if (spec := spec_of(o, WindowedFeaturesSpec)) is not None]
        histories = [fv for fv in feature_views if isinstance(spec_of(fv), HistorySpec)]
        others = [fv for fv in feature_views if fv not in histories]
        return cls(config, registry, project, feature_refs, full_names, filter_by_created, histories, others,
                   windowed, [o for o in odfvs if spec_of(o, WindowedFeaturesSpec) is None])

    @property
    def has_action_views(self) -> bool:
        return bool(self.histories or self.windowed)

    def groups(self, stores: _Stores) -> list[tuple[_Store, list[FeatureView]]]:
        """The ordinary views by the store that joins them (the delegate; DuckDB for Parquet views)."""
        found: dict[int, tuple[_Store, list[FeatureView]]] = {}
        for view in self.others:
            store = stores.reading(view.batch_source)
            found.setdefault(id(store), (store, []))[1].append(view)
        return list(found.values())

    def refs_of(self, views: list[FeatureView]) -> list[str]:
        """The refs of ``views``: a store's job must not see (or apply) any other."""
        names = {fv.projection.name_to_use() for fv in views}
        return [ref for ref in self.feature_refs if ref.split(":", 1)[0] in names]

    @property
    def feeding(self) -> set[str]:
        """Histories that feed a windowed view: their windows come from the log, never from lists."""
        return {spec.history for _, spec in self.windowed}

    @property
    def returned_refs(self) -> list[str]:
        """The refs whose columns the result has (not the lists of a history feeding a windowed view)."""
        hidden = {fv.projection.name_to_use() for fv in self.histories if fv.name in self.feeding}
        return [ref for ref in self.feature_refs if ref.split(":", 1)[0] not in hidden]

    def history(self, name: str) -> FeatureView:
        for view in self.histories:
            if view.name == name:
                return view
        raise OfflineStoreError(f"history '{name}' is not among the views of this request")

    def wanted(self, view: str) -> list[str]:
        return [ref.split(":", 1)[1] for ref in self.feature_refs if ref.split(":", 1)[0] == view]

    def column(self, view: str, feature: str) -> str:
        return f"{view}__{feature}" if self.full_names else feature

    def request(self, plan: EntityPlan, frame: pd.DataFrame) -> ActionRequest:
        """The engine's question: the histories asked for by name, the windowed views (candidates from ``frame``)."""
        histories = []
        for view in self.histories:
            if view.name not in self.feeding:
                spec = spec_of(view, HistorySpec)
                assert spec is not None, "histories are the views with a HistorySpec"
                name = view.projection.name_to_use()
                histories.append(HistoryAsk(view, spec, {f: self.column(name, f) for f in self.wanted(name)}))
        windowed = tuple(self._windowed_ask(odfv, spec, frame) for odfv, spec in self.windowed)
        return ActionRequest(self.config, plan, tuple(histories), windowed)

    def _windowed_ask(self, odfv: OnDemandFeatureView, spec: WindowedFeaturesSpec,
                      frame: pd.DataFrame) -> WindowedAsk:
        history = self.history(spec.history)
        hspec = spec_of(history, HistorySpec)
        if hspec is None:
            raise OfflineStoreError(f"'{odfv.name}' is not a windowed view of a history")
        view = odfv.projection.name_to_use()
        candidates = None
        if spec.candidate:
            column = self.column(*spec.candidate.split("__", 1))
            if column not in frame.columns:
                raise OfflineStoreError(f"'{odfv.name}' needs its candidate '{spec.candidate.replace('__', ':')}' "
                                        f"in the same request")
            candidates = frame[column]
        return WindowedAsk(odfv, spec, history, hspec, {n: self.column(view, n) for n in self.wanted(view)},
                           candidates)


class ActionLogOfflineStore(OfflineStore):
    """The delegate's offline store for ordinary views, this project's engines for action logs."""

    # passed on to the delegate, which refuses it if it cannot
    supports_filter_by_created_timestamp = True

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
        stores = _Stores.of(config)
        call = _Call.of(config, feature_views, feature_refs, registry, project, full_feature_names,
                        filter_by_created_timestamp)
        groups = call.groups(stores)
        if filter_by_created_timestamp:
            for store, _ in groups:
                store.store.ensure_filter_by_created_timestamp_supported()
        native = None  # a call of one store's ordinary views only is that store's own job
        if not call.has_action_views and len(groups) <= 1:
            store = groups[0][0] if groups else stores.delegate
            native = functools.partial(store.store.get_historical_features, store.config, feature_views,
                                       feature_refs, entity_df, registry, project, full_feature_names,
                                       **created_flag(filter_by_created_timestamp))
        if not isinstance(entity_df, pd.DataFrame) and native is not None:
            return native()  # the delegate's own entity_df: its SQL, its frames
        engine = engine_named(_store_config(config).engine)
        frames = (engine, config) if isinstance(engine, ClusterFrames) else None
        if not isinstance(entity_df, pd.DataFrame):
            rows = None if frames is None else frames[0].entity_rows(config, entity_df)
            if rows is None:
                raise OfflineStoreError(
                    f"entity_df must be a pandas DataFrame here, got {type(entity_df).__name__}: a SQL entity_df "
                    f"works for ordinary views of one store only; with engine: spark, a Spark DataFrame or "
                    f"Spark SQL works too")
            entity_df = rows
        plan = EntityPlan.of(entity_df)
        times = pd.to_datetime(plan.rows[plan.ts_column], utc=True) if len(plan) else None
        metadata = RetrievalMetadata(
            features=call.returned_refs,
            keys=[c for c in entity_df.columns if c != plan.ts_column],
            min_event_timestamp=None if times is None else times.min().to_pydatetime(),
            max_event_timestamp=None if times is None else times.max().to_pydatetime(),
        )
        build = functools.partial(_build, call, plan, groups, engine)
        return _FrameJob(build, call.odfvs, full_feature_names, metadata, native, frames)

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
        if isinstance(spec_of(data_source), ActionLogSpec):
            return _empty_job(join_key_columns + feature_name_columns + [timestamp_field])
        store = _Stores.of(config).reading(data_source)
        return store.store.pull_latest_from_table_or_query(
            store.config, data_source, join_key_columns, feature_name_columns, timestamp_field,
            created_timestamp_column, start_date, end_date)

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
        if isinstance(spec_of(data_source), ActionLogSpec):
            return _empty_job(join_key_columns + feature_name_columns + [timestamp_field])
        store = _Stores.of(config).reading(data_source)
        return store.store.pull_all_from_table_or_query(
            store.config, data_source, join_key_columns, feature_name_columns, timestamp_field,
            created_timestamp_column, start_date, end_date)

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        spec = spec_of(feature_view)
        if not isinstance(spec, ActionLogSpec):
            store = _Stores.of(config).reading(feature_view.batch_source)
            store.store.offline_write_batch(store.config, feature_view, table, progress)
            return
        _write_actions(config, spec, table)
        if progress:
            progress(table.num_rows)

    @staticmethod
    def write_logged_features(
        config: RepoConfig,
        data: pa.Table | Path,
        source: LoggingSource,
        logging_config: LoggingConfig,
        registry: BaseRegistry,
    ) -> None:
        store = _Stores.of(config).reading(logging_config.destination.to_data_source())
        store.store.write_logged_features(store.config, data, source, logging_config, registry)

    def validate_data_source(self, config: RepoConfig, data_source: DataSource) -> None:
        spec = spec_of(data_source)
        if isinstance(spec, ActionLogSpec):
            # An action log starts empty: its folder is made, not required.
            open_log(resolve_path(config.repo_path, spec.path)).make_root()
            return
        store = _Stores.of(config).reading(data_source)
        store.store.validate_data_source(store.config, data_source)

    def get_table_column_names_and_types_from_data_source(
        self, config: RepoConfig, data_source: DataSource
    ) -> Iterable[tuple[str, str]]:
        spec = spec_of(data_source)
        if isinstance(spec, ActionLogSpec):
            return list(action_log_columns(spec).items())
        store = _Stores.of(config).reading(data_source)
        return store.store.get_table_column_names_and_types_from_data_source(store.config, data_source)


def _build(call: _Call, plan: EntityPlan, groups: list[tuple[_Store, list[FeatureView]]],
           engine: ActionEngine) -> pd.DataFrame:
    """The training frame: each store's join of its ordinary views, then the engine's action-log columns."""
    joined = [aligned(plan, _join(call, plan, store, views)) for store, views in groups]
    frame = pd.concat([plan.rows, *joined], axis=1)
    if call.has_action_views:
        frame = frame.assign(**engine.columns(call.request(plan, frame)))
    return frame.drop(columns=[ROW_ID])


def _join(call: _Call, plan: EntityPlan, store: _Store, views: list[FeatureView]) -> pa.Table:
    job = store.store.get_historical_features(
        store.config, views, call.refs_of(views), plan.rows, call.registry, call.project, call.full_names,
        **created_flag(call.filter_by_created_timestamp))
    return job.to_arrow()


def aligned(plan: EntityPlan, table: pa.Table) -> pd.DataFrame:
    """A store's feature columns, one row per entity row in the plan's order (matched by row number).

    A store's join may return rows in any order and, in principle, leave some
    out: each row is matched by its number, and a row left out gets no
    feature values (nulls). A row number returned twice is an error: the
    join fanned out, and which values belong to the row is unknown. The
    entity columns are the plan's (as given), not the store's copy. Column
    names are matched without case (some warehouses upper-case them).
    """
    entity = {c.lower() for c in plan.rows.columns if c != ROW_ID}
    row_id = next((c for c in table.column_names if c.lower() == ROW_ID), None)
    if row_id is None:
        raise OfflineStoreError(f"the offline store's result has no column '{ROW_ID}' (the row number this "
                                f"store adds to entity_df); got {table.column_names}")
    features = _arrow_lists_frame(table.drop_columns([c for c in table.column_names if c.lower() in entity]))
    ids = features.pop(row_id).astype("int64").to_numpy()
    counts = pd.Series(ids).value_counts()
    if (counts > 1).any():
        twice = counts[counts > 1]
        raise OfflineStoreError(f"the offline store returned entity row {int(twice.index[0])} "
                                f"{int(twice.iloc[0])} times ({len(twice)} row(s) repeated): its join fanned out")
    features.index = ids
    return features.reindex(plan.rows[ROW_ID].to_numpy()).reset_index(drop=True)


def _arrow_lists_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame whose list columns stay Arrow-backed (no per-row Python lists)."""
    return table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)


def _reject_logs(feature_views: list[FeatureView]) -> None:
    for fv in feature_views:
        if isinstance(spec_of(fv), ActionLogSpec):
            raise OfflineStoreError(
                f"'{fv.name}' is an action log: read it through an action_history view"
            )


def _empty_job(columns: list[str]) -> RetrievalJob:
    # Actions reach the online store by push; materializing "latest per actor"
    # would store one arbitrary action per member.
    return _FrameJob(lambda: pd.DataFrame({c: [] for c in columns}), [], False, None)


def _write_actions(config: RepoConfig, spec: ActionLogSpec, table: pa.Table) -> None:
    """Feast's store.push(..., to=OFFLINE/ONLINE_AND_OFFLINE): the online write's rules, so both accept the same ids."""
    actions, problems = validate_push_rows(_push_rows(table, spec), spec, clock.now_ms())
    if problems:
        raise ActionValidationError(problems)
    root = resolve_path(config.repo_path, spec.path)
    try:
        write_action_parts(root, actions_to_table(actions, spec), spec)
    except OfflineWriteError as exc:
        raise OfflineWriteError(
            f"{exc}. A store.push(..., to=ONLINE_AND_OFFLINE) has written these actions to the online store "
            f"already (Feast writes online first): push the same frame again once {root} is writable; the "
            f"actions' ids make the retry keep each action once on both sides "
            f"(feast_pinot.push_actions writes the offline log first)", exc.written) from exc


def _push_rows(table: pa.Table, spec: ActionLogSpec) -> list[dict[str, Any]]:
    names = [n for n in action_log_columns(spec) if n in table.column_names]
    rows = table.select(names).to_pylist()
    for row in rows:
        ts = row.get("event_timestamp")
        row["event_timestamp"] = None if ts is None else datetime_to_ms(ts)
    return rows
