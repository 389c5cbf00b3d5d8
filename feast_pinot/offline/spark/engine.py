"""The Spark engine's plan: entity rows and actions grouped by actor bucket (and time slab), the engine per group.

For each history of a call, one ``cogroup(...).applyInArrow``:

* the entity rows, keyed by ``(pmod(xxhash64(actor), buckets), slab of t)``;
* the log's deduplicated actions (:mod:`~feast_pinot.offline.spark.log`) of
  the requested actors, each copied into the slabs whose rows can see it (a
  row at ``t`` sees ``t - retention < ts <= t``), and kept only where that
  (actor, slab) has rows;
* per group, :class:`~feast_pinot.offline.spark.tasks.LogTask` sorts the
  actions and runs :func:`feast_pinot.offline.engine.windowed_columns`.

Without ``time_slab_hours`` every row is in slab 0: a group is a bucket of
actors with all their actions. With it, a hot actor's actions are spread
over its slabs: a group holds at most ``slab + retention`` of its time.

A history with a read-time attribute join takes three steps: each row's
history (lists, as of ``t``) from the same grouping; the attribute of each
action as of the row's time ``t`` (the value an online read at request time
sees) by a join on the object's key; then, grouped by a bucket of the row,
:class:`~feast_pinot.offline.spark.tasks.RowTask` runs the view's body.

The result: one Spark DataFrame, ``row_id`` plus every column asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from feast_pinot.errors import OfflineStoreError
from feast_pinot.features import output_names
from feast_pinot.offline.parts import resolve_path
from feast_pinot.offline.spark.config import SparkEngineConfig
from feast_pinot.offline.spark.log import read_actions
from feast_pinot.offline.spark.tasks import ROW, LogTask, RowTask, ViewAsk, list_type
from feast_pinot.specs import HISTORY_FEATURES, AttributeJoinSpec, HistorySpec

__all__ = ["HistoryAsk", "HistoryPlan", "history_columns"]

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class HistoryAsk:
    """What one call asks of one history: its lists, its windowed views."""

    spec: HistorySpec
    lists: dict[str, str]  # history feature -> output column
    views: tuple[ViewAsk, ...]


@dataclass(frozen=True)
class HistoryPlan:
    """Where a call's inputs are: the session, the engine's options, the feature repo."""

    spark: SparkSession
    config: SparkEngineConfig
    repo_path: str | Path | None

    @property
    def buckets(self) -> int:
        if self.config.actor_buckets:
            return self.config.actor_buckets
        return int(self.spark.conf.get("spark.sql.shuffle.partitions") or 200)


def _schema(fields: Sequence[tuple[str, pa.DataType]]) -> pa.Schema:
    return pa.schema([pa.field(ROW, pa.int64()), *[pa.field(name, kind) for name, kind in fields]])


_LIST_TYPES = {"action_ts": pa.list_(pa.int64()), "action_verbs": pa.list_(pa.string()),
               "action_objects": pa.list_(pa.string()), "action_embeddings": pa.binary()}


def _ddl(schema: pa.Schema) -> T.StructType:
    """The Spark schema of an Arrow schema of the engine's output types."""
    spark_types = {pa.int64(): T.LongType(), pa.float64(): T.DoubleType(), pa.binary(): T.BinaryType(),
                   pa.list_(pa.float32()): T.ArrayType(T.FloatType()), pa.list_(pa.int64()): T.ArrayType(T.LongType()),
                   pa.list_(pa.string()): T.ArrayType(T.StringType())}
    return T.StructType([T.StructField(f.name, spark_types[f.type]) for f in schema])


def _view_fields(views: Sequence[ViewAsk]) -> list[tuple[str, pa.DataType]]:
    return [(column, list_type(output_names(ask.spec)[name].value))
            for ask in views for name, column in zip(ask.wanted, ask.columns)]


def _two_tables(task: Callable[[pa.Table, pa.Table], pa.Table]) -> Callable[[pa.Table, pa.Table], pa.Table]:
    """The task as a function of two tables: Spark counts a callable object's ``self`` as the group key."""

    def run(left: pa.Table, right: pa.Table) -> pa.Table:
        return task(left, right)

    return run


def _bucket(column: str, buckets: int) -> Column:
    return F.pmod(F.xxhash64(column), F.lit(buckets))


def _slab(ts: Column, slab_ms: int | None) -> Column:
    return F.floor(ts / F.lit(slab_ms)).cast("long") if slab_ms else F.lit(0).cast("long")


def _grouped_actions(actions: DataFrame, rows: DataFrame, hspec: HistorySpec, slab_ms: int | None) -> DataFrame:
    """Each action in every slab whose rows can see it, kept only where that (actor, slab) has rows."""
    if slab_ms:
        last = F.col("ts") + F.lit(hspec.log.retention_ms - 1)  # rows at t in [ts, ts + retention) see it
        actions = actions.withColumn("slab", F.explode(F.sequence(_slab(F.col("ts"), slab_ms), _slab(last, slab_ms))))
    else:
        actions = actions.withColumn("slab", _slab(F.col("ts"), None))
    return actions.join(rows.select("actor", "slab").distinct(), ["actor", "slab"], "left_semi")


def _log_columns(ask: HistoryAsk, lists: Sequence[str]) -> tuple[str, ...]:
    columns = []
    if "action_verbs" in lists:
        columns.append("verb")
    if "action_objects" in lists or any(v.spec.seen is not None for v in ask.views):
        columns.append("object")
    if ask.spec.log.embedding_dim and (ask.views or "action_embeddings" in lists):
        columns.append("embedding")
    return tuple(columns)


def _by_actor(plan: HistoryPlan, ask: HistoryAsk, rows: DataFrame, views: tuple[ViewAsk, ...],
              lists: tuple[str, ...]) -> DataFrame:
    """One LogTask per (actor bucket, slab): ``row_id``, the views' outputs and the ``lists``."""
    hspec = ask.spec
    slab_ms = plan.config.time_slab_hours * HOUR_MS if plan.config.time_slab_hours else None
    rows = rows.withColumn("slab", _slab(F.col("t"), slab_ms)).withColumn("bucket", _bucket("actor", plan.buckets))
    path = resolve_path(plan.repo_path, hspec.log.path)
    actions = read_actions(plan.spark, path, hspec.log, _log_columns(ask, lists))
    actions = _grouped_actions(actions, rows, hspec, slab_ms).withColumn("bucket", _bucket("actor", plan.buckets))
    schema = _schema([*[(name, _LIST_TYPES[name]) for name in lists], *_view_fields(views)])
    task = LogTask(hspec, views, lists, schema)
    keys = ["bucket", "slab"]
    return rows.groupBy(*keys).cogroup(actions.groupBy(*keys)).applyInArrow(_two_tables(task), _ddl(schema))


def history_columns(plan: HistoryPlan, ask: HistoryAsk, rows: DataFrame) -> DataFrame:
    """``row_id`` and every column asked of the history.

    ``rows``: ``row_id``, ``actor``, ``t`` and the views' inputs
    (``request_ts_<i>``, ``candidate_<i>``, ``key_<i>``).
    """
    if ask.spec.attribute is None:
        out = _by_actor(plan, ask, rows, ask.views, tuple(ask.lists))
    else:
        out = _joined(plan, ask, rows, ask.spec.attribute)
    return out.withColumnsRenamed(ask.lists)


def _joined(plan: HistoryPlan, ask: HistoryAsk, rows: DataFrame, attr: AttributeJoinSpec) -> DataFrame:
    lists = _by_actor(plan, ask, rows.select(ROW, "actor", "t"), (), HISTORY_FEATURES[:3])
    hits = (lists.join(rows.select(ROW, "t"), ROW)
            .select(ROW, "t", F.posexplode("action_objects").alias("i", "object")))
    attributes = _attributes_as_of_t(plan, hits, attr, ask.spec.embedding_dim)
    inputs = rows.join(lists, ROW).withColumn("bucket", _bucket(ROW, plan.buckets))
    attributes = attributes.withColumn("bucket", _bucket(ROW, plan.buckets))
    schema = _schema([*[(name, _LIST_TYPES[name]) for name in ask.lists], *_view_fields(ask.views)])
    task = RowTask(ask.spec, ask.views, tuple(ask.lists), schema)
    return inputs.groupBy("bucket").cogroup(attributes.groupBy("bucket")).applyInArrow(_two_tables(task),
                                                                                       _ddl(schema))


def _attributes_as_of_t(plan: HistoryPlan, hits: DataFrame, attr: AttributeJoinSpec, dim: int) -> DataFrame:
    """``row_id``, ``i``, ``embedding``: each action's attribute, the latest with a time at or before the row's."""
    key_type = T.LongType() if attr.key_is_int else T.StringType()
    objects = hits.select("object").distinct()
    keys = objects.mapInArrow(_ObjectKeys(attr), T.StructType([T.StructField("object", T.StringType()),
                                                               T.StructField("obj_key", key_type)]))
    source = plan.spark.read.parquet(resolve_path(plan.repo_path, attr.path))
    missing = {attr.join_key, attr.feature, attr.timestamp_field} - set(source.columns)
    if missing:
        raise OfflineStoreError(f"the attribute source {attr.path} of '{attr.feature_view}' has no column(s) "
                                f"{sorted(missing)}")
    values = source.select(F.col(attr.join_key).cast(key_type).alias("obj_key"),
                           F.col(attr.feature).alias("value"),
                           F.unix_millis(F.col(attr.timestamp_field).cast("timestamp")).alias("attr_ts"))
    as_of_t = (F.col("h.obj_key") == F.col("a.obj_key")) & (F.col("a.attr_ts") <= F.col("h.t"))
    joined = (hits.join(keys, "object", "left").alias("h").join(values.alias("a"), as_of_t, "left")
              .groupBy(F.col(f"h.{ROW}").alias(ROW), F.col("h.i").alias("i"))
              .agg(F.max_by("a.value", "a.attr_ts").alias("value")))
    wanted = F.when(F.size("value") == dim, F.col("value").cast(T.ArrayType(T.FloatType())))
    return joined.select(ROW, "i", wanted.alias("embedding"))


@dataclass(frozen=True)
class _ObjectKeys:
    """Inside a task: each distinct object's attribute key, parsed by the function the online join calls."""

    attr: AttributeJoinSpec

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        kind = pa.int64() if self.attr.key_is_int else pa.string()
        for batch in batches:
            objects = batch.column(0).to_pylist()
            keys = [self.attr.object_key(o) if isinstance(o, str) else None for o in objects]
            yield pa.RecordBatch.from_arrays([batch.column(0), pa.array(keys, kind)], names=["object", "obj_key"])
