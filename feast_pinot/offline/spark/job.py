"""A training-data call on the Spark engine: entity rows in Spark, the result as a Spark DataFrame first.

``entity_df`` may be a pandas frame, a Spark DataFrame or Spark SQL. Its rows
are numbered in their order (``zipWithIndex``, or the frame's index order
for pandas), and every column of the action logs comes back keyed by that
number, so the result has the rows in order, duplicates included.

Ordinary feature views are joined by Feast's join that the store hands in
(``feast_join``), over the entity rows as a pandas frame: on one machine,
and the only part of the call that collects the entity rows to the driver.
The candidate embeddings the windowed views compare with come from it.

:class:`SparkRetrievalJob`: ``to_spark_df()`` keeps everything in the
cluster (write it with Spark); ``to_df()`` and ``to_arrow()`` collect to the
driver (and apply Feast's other on-demand views); ``persist()`` writes
Parquet with Spark.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from feast import FeatureView, OnDemandFeatureView
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.saved_dataset import SavedDatasetStorage
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline.plan import ROW_ID, EntityPlan
from feast_pinot.offline.spark.config import SparkEngineConfig
from feast_pinot.offline.spark.engine import HistoryAsk, HistoryPlan, history_columns
from feast_pinot.offline.spark.session import spark_session
from feast_pinot.offline.spark.tasks import ROW, ViewAsk
from feast_pinot.specs import HistorySpec, spec_of

if TYPE_CHECKING:
    from feast_pinot.offline.store import _Call

__all__ = ["SparkRetrievalJob", "spark_historical_features"]

T_MS = "__feast_pinot_t"


@dataclass(frozen=True)
class _Base:
    """The entity rows and the ordinary views' features, both ways (each built once, on first use)."""

    spark: Callable[[], DataFrame]
    pandas: Callable[[], pd.DataFrame]


@dataclass(frozen=True)
class _Entities:
    """The entity rows in Spark (``ROW_ID``, ``T_MS`` and entity_df's columns), and as pandas when needed."""

    frame: DataFrame
    ts_column: str
    plan: Callable[[], EntityPlan]


def _entities(spark: SparkSession, entity_df: Any) -> _Entities:
    if isinstance(entity_df, pd.DataFrame):
        given = EntityPlan.of(entity_df)
        table = pa.Table.from_pandas(given.rows, preserve_index=False).append_column(T_MS, pa.array(given.t))
        return _Entities(spark.createDataFrame(table.replace_schema_metadata(None)), given.ts_column, lambda: given)
    if isinstance(entity_df, str):
        entity_df = spark.sql(entity_df)
    if not isinstance(entity_df, DataFrame):
        raise OfflineStoreError(f"entity_df must be a pandas DataFrame, a Spark DataFrame or Spark SQL, "
                                f"got {type(entity_df).__name__}")
    ts_column = _timestamp_column(entity_df)
    numbered = entity_df.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1]))
    schema = T.StructType([*entity_df.schema.fields, T.StructField(ROW_ID, T.LongType(), False)])
    frame = spark.createDataFrame(numbered, schema).withColumn(T_MS, F.unix_millis(F.col(ts_column)))
    frame = frame.localCheckpoint()  # numbered once: a recomputation could number the rows anew

    def plan() -> EntityPlan:
        table = frame.orderBy(ROW_ID).drop(ROW_ID, T_MS).toArrow()
        # integers stay integers where a value is missing (pandas' default would make them floats)
        nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.int16(): pd.Int16Dtype()}
        return EntityPlan.of(table.to_pandas(types_mapper=nullable.get))

    return _Entities(frame, ts_column, plan)


def _timestamp_column(frame: DataFrame) -> str:
    """Feast's rule: ``event_timestamp``, else the one timestamp column."""
    if "event_timestamp" in frame.columns:
        return "event_timestamp"
    found = [f.name for f in frame.schema.fields if isinstance(f.dataType, (T.TimestampType, T.TimestampNTZType))]
    if len(found) != 1:
        raise OfflineStoreError(f"entity_df needs one timestamp column (or 'event_timestamp'), found {found}")
    return found[0]


def _column(frame: DataFrame, name: str, needed_by: str) -> None:
    if name not in frame.columns:
        raise OfflineStoreError(f"entity_df needs column '{name}' for {needed_by}")


def _check_request_ts(frame: DataFrame, fields: dict[str, str]) -> None:
    """Each request field is epoch ms: integers without nulls (one pass for all of them)."""
    for name, needed_by in fields.items():
        if name not in frame.columns:
            raise OfflineStoreError(
                f"{needed_by} needs the entity_df column '{name}' (add it with feast_pinot.with_request_ts)")
        kind = frame.schema[name].dataType
        if not isinstance(kind, (T.LongType, T.IntegerType, T.ShortType)):
            raise OfflineStoreError(f"entity_df column '{name}' must hold epoch ms (integers, no nulls), "
                                    f"got dtype {kind.simpleString()}")
    if fields:
        nulls = frame.select(*[F.sum(F.col(n).isNull().cast("long")).alias(n) for n in fields]).first()
        for name in fields:
            if nulls is not None and nulls[name]:
                raise OfflineStoreError(f"entity_df column '{name}' must hold epoch ms (integers, no nulls), "
                                        f"got {nulls[name]} null(s)")


class SparkRetrievalJob(RetrievalJob):
    """The training frame, built in Spark; ``to_spark_df`` leaves it there.

    ``base``: the entity rows with the ordinary views' features (``ROW_ID``
    in entity order), in Spark and as pandas; ``columns``: ``ROW_ID`` and the
    action logs' columns, in Spark.
    """

    def __init__(self, base: _Base, columns: Callable[[], DataFrame], odfvs: list[OnDemandFeatureView],
                 full_feature_names: bool, metadata: RetrievalMetadata | None) -> None:
        self._base = base
        self._columns = columns
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

    def to_spark_df(self) -> DataFrame:
        """The result as a Spark DataFrame, rows in entity order (Feast's other on-demand views not applied)."""
        if self._odfvs:
            raise OfflineStoreError(f"on-demand views {[o.name for o in self._odfvs]} are applied by to_df() and "
                                    f"to_arrow() only")
        base = self._base.spark()
        columns = self._columns()
        added = [c for c in columns.columns if c != ROW_ID]
        return base.join(columns, ROW_ID, "left").select(*base.columns, *added).orderBy(ROW_ID).drop(ROW_ID)

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        base = self._base.pandas()
        table = self._columns().toArrow().sort_by(ROW_ID)
        if table.num_rows != len(base) or table.column(ROW_ID).to_pylist() != base[ROW_ID].tolist():
            raise OfflineStoreError(f"the Spark engine returned {table.num_rows} rows for {len(base)} entity rows")
        out = {}
        for name in table.column_names[1:]:
            column = table.column(name)
            if column.type == pa.list_(pa.float32()):  # vectors stay Arrow-backed, as the DuckDB engine gives them
                out[name] = pd.arrays.ArrowExtensionArray(column.combine_chunks())
            else:
                out[name] = column.to_pylist() if pa.types.is_nested(column.type) or pa.types.is_binary(
                    column.type) else column.to_numpy()
        return base.assign(**out).drop(columns=[ROW_ID])

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        table = pa.Table.from_pandas(self._to_df_internal(timeout), preserve_index=False)
        return table.replace_schema_metadata(None)

    def persist(self, storage: SavedDatasetStorage, allow_overwrite: bool = False, timeout: int | None = None) -> None:
        """Write the result as Parquet with Spark (a folder of parts) at the storage's path."""
        path = storage.to_data_source().path  # type: ignore[attr-defined]
        mode = "overwrite" if allow_overwrite else "errorifexists"
        try:
            self.to_spark_df().write.mode(mode).parquet(path)
        except Exception as exc:  # Spark's "path already exists" is an AnalysisException
            if "PATH_ALREADY_EXISTS" in str(exc):
                raise OfflineStoreError(f"{path} exists; pass allow_overwrite=True to replace it") from exc
            raise


def _asks(call: _Call) -> list[tuple[FeatureView, HistoryAsk]]:
    """Per history of the call: its lists asked for alone, and its windowed views."""
    asks: dict[str, tuple[FeatureView, HistorySpec, dict[str, str], list[ViewAsk]]] = {}
    for view in call.histories:
        spec = spec_of(view, HistorySpec)
        assert spec is not None
        name = view.projection.name_to_use()
        lists = {} if view.name in call.feeding else {f: call.column(name, f) for f in call.wanted(name)}
        asks[view.name] = (view, spec, lists, [])
    for index, (odfv, wspec) in enumerate(call.windowed):
        view_name = odfv.projection.name_to_use()
        if wspec.history not in asks:
            raise OfflineStoreError(f"history '{wspec.history}' is not among the views of this request")
        wanted = tuple(call.wanted(view_name))
        asks[wspec.history][3].append(ViewAsk(wspec, wanted, tuple(call.column(view_name, n) for n in wanted), index))
    out = []
    for view, spec, lists, views in asks.values():
        key = spec.log.actor_join_key
        out.append((view, HistoryAsk(spec, view.projection.join_key_map.get(key, key), lists, tuple(views))))
    return out


def _history_rows(entities: _Entities, ask: HistoryAsk, view: FeatureView, candidates: DataFrame | None) -> DataFrame:
    frame = entities.frame
    _column(frame, ask.actor_column, f"history '{view.name}'")
    kind = T.LongType() if ask.spec.log.actor_is_int else T.StringType()
    columns = [F.col(ROW_ID).alias(ROW), F.col(ask.actor_column).cast(kind).alias("actor"), F.col(T_MS).alias("t")]
    for v in ask.views:
        columns.append(F.col(v.spec.request_field).alias(f"request_ts_{v.index}"))
        if v.spec.seen is not None:
            _column(frame, v.spec.seen.candidate_key, f"the seen features of '{v.spec.view}'")
            columns.append(F.col(v.spec.seen.candidate_key).alias(f"key_{v.index}"))
    rows = frame.select(*columns)
    needed = [f"candidate_{v.index}" for v in ask.views if v.spec.candidate and v.spec.embedding_dim]
    if needed and candidates is not None:
        rows = rows.join(candidates.select(ROW, *needed), ROW, "left")
    return rows


def _candidates(spark: SparkSession, frame: pd.DataFrame, call: _Call) -> DataFrame | None:
    """``row_id`` and each windowed view's candidate embedding (from the ordinary views' join)."""
    columns: dict[str, Any] = {ROW: frame[ROW_ID].to_numpy()}
    for index, (_, wspec) in enumerate(call.windowed):
        if wspec.candidate and wspec.embedding_dim:
            values = frame[call.column(*wspec.candidate.split("__", 1))]
            columns[f"candidate_{index}"] = pa.array(values, type=pa.list_(pa.float32()), from_pandas=True)
    if len(columns) == 1:
        return None
    return spark.createDataFrame(pa.table(columns))


def _request_fields(call: _Call) -> dict[str, str]:
    """Each request field, and the first view needing it."""
    fields: dict[str, str] = {}
    for odfv, wspec in call.windowed:
        fields.setdefault(wspec.request_field, f"'{odfv.name}'")
    return fields


def _metadata(call: _Call, entities: _Entities, entity_columns: Sequence[str]) -> RetrievalMetadata:
    bounds = entities.frame.select(F.min(entities.ts_column), F.max(entities.ts_column)).first()
    low, high = (None, None) if bounds is None else (bounds[0], bounds[1])
    return RetrievalMetadata(features=call.feature_refs, keys=[c for c in entity_columns if c != entities.ts_column],
                             min_event_timestamp=low, max_event_timestamp=high)


def spark_historical_features(call: _Call, entity_df: Any, config: SparkEngineConfig,
                              feast_join: Callable[[EntityPlan], pd.DataFrame]) -> SparkRetrievalJob:
    """The training data of ``call`` on the Spark engine (``feast_join``: the ordinary views' join)."""
    spark = spark_session(config)
    entities = _entities(spark, entity_df)
    entity_columns = [c for c in entities.frame.columns if c not in (ROW_ID, T_MS)]
    _check_request_ts(entities.frame, _request_fields(call))
    metadata = _metadata(call, entities, entity_columns)

    joined = functools.cache(lambda: feast_join(entities.plan()) if call.others else entities.plan().rows)

    def base_spark() -> DataFrame:
        if not call.others:
            return entities.frame.select(ROW_ID, *entity_columns)
        table = pa.Table.from_pandas(joined(), preserve_index=False).replace_schema_metadata(None)
        return spark.createDataFrame(table)

    def columns() -> DataFrame:
        candidates = _candidates(spark, joined(), call) if call.others else None
        plan = HistoryPlan(spark, config, call.config.repo_path)
        out = entities.frame.select(ROW_ID)
        asks = _asks(call)
        for view, ask in asks:
            found = history_columns(plan, ask, _history_rows(entities, ask, view, candidates))
            out = out.join(found.withColumnRenamed(ROW, ROW_ID), ROW_ID, "left")
        # the DuckDB engine's order: the lists of each history, then each windowed view's outputs
        lists = [c for _, ask in asks for c in ask.lists.values()]
        windowed = sorted((v for _, ask in asks for v in ask.views), key=lambda v: v.index)
        return out.select(ROW_ID, *lists, *[c for v in windowed for c in v.columns])

    return SparkRetrievalJob(_Base(functools.cache(base_spark), joined), functools.cache(columns), call.odfvs,
                             call.full_names, metadata)
