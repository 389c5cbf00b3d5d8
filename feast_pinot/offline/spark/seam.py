"""The Spark engine behind the offline store's engine seam (``engine: spark``).

:class:`SparkEngine` answers the store's :class:`~feast_pinot.offline.engines.ActionRequest`:
the entity rows (the plan, in row order) and the candidates the delegate
joined go to Spark, each history of the request is computed by
:func:`~feast_pinot.offline.spark.engine.history_columns` (the same engine
as DuckDB's, inside Spark tasks), and the columns come back in row order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureView
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SavedDatasetSparkStorage
from feast.repo_config import RepoConfig
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession

from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline.engines import ActionRequest, WindowedAsk
from feast_pinot.offline.plan import ROW_ID
from feast_pinot.offline.spark import engine
from feast_pinot.offline.spark.session import spark_session
from feast_pinot.offline.spark.tasks import ROW, ViewAsk
from feast_pinot.specs import HistorySpec

__all__ = ["SparkEngine"]

_NULLABLE_INTS = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.int16(): pd.Int16Dtype()}


def _rows(spark: SparkSession, request: ActionRequest, history: FeatureView, hspec: HistorySpec,
          views: list[tuple[WindowedAsk, int]]) -> DataFrame:
    """``row_id``, ``actor``, ``t`` and each view's inputs (request time, candidate, candidate key)."""
    plan = request.plan
    columns: dict[str, Any] = {ROW: plan.rows[ROW_ID].to_numpy(), "actor": plan.actors(history, hspec.log),
                               "t": plan.t}
    for windowed, index in views:
        needed_by = f"'{windowed.view.name}'"
        columns[f"request_ts_{index}"] = plan.request_ts(windowed.spec.request_field, needed_by)
        if windowed.spec.seen is not None:
            keys = plan.keys(windowed.spec.seen.candidate_key, f"the seen features of {needed_by}")
            columns[f"key_{index}"] = pa.array(keys, pa.int64() if windowed.spec.seen.key_is_int else pa.string())
        if windowed.candidates is not None:
            columns[f"candidate_{index}"] = pa.array(windowed.candidates, type=pa.list_(pa.float32()),
                                                     from_pandas=True)
    return spark.createDataFrame(pa.table(columns))


class SparkEngine:
    """Computes action-log views on Spark: the active session, or one built from ``offline_store.spark``.

    Also the store's Spark frames: a Spark DataFrame or Spark SQL as ``entity_df``
    (collected to the driver in its order: the delegate joins pandas rows), the
    result as a Spark DataFrame (``to_spark_df``), and ``persist`` into Feast's
    ``SavedDatasetSparkStorage``.
    """

    def entity_rows(self, config: RepoConfig, entity_df: Any) -> pd.DataFrame | None:
        if not isinstance(entity_df, (str, DataFrame)):
            return None
        spark = spark_session(config.offline_store.spark)
        frame = spark.sql(entity_df) if isinstance(entity_df, str) else entity_df
        # integers stay integers where a value is missing (pandas' default would make them floats)
        return frame.toArrow().to_pandas(types_mapper=_NULLABLE_INTS.get)

    def result_frame(self, config: RepoConfig, table: pa.Table) -> DataFrame:
        return spark_session(config.offline_store.spark).createDataFrame(table.replace_schema_metadata(None))

    def persist(self, config: RepoConfig, table: pa.Table, storage: Any, allow_overwrite: bool) -> bool:
        if not isinstance(storage, SavedDatasetSparkStorage):
            return False
        options = storage.spark_options
        writer = self.result_frame(config, table).write.mode("overwrite" if allow_overwrite else "errorifexists")
        try:
            if options.table:
                writer.saveAsTable(options.table)
            else:
                writer.format(options.file_format or "parquet").save(options.path)
        except PySparkException as exc:
            raise OfflineStoreError(f"saving the training data to {options.table or options.path} failed "
                                    f"(allow_overwrite={allow_overwrite}): {exc}") from exc
        return True

    def columns(self, request: ActionRequest) -> dict[str, Any]:
        config = request.config.offline_store.spark
        spark = spark_session(config)
        plan = engine.HistoryPlan(spark, config, request.config.repo_path)
        # per history: the view, its spec, its lists asked for by name, its windowed views (and their numbers)
        by_history: dict[str, tuple[FeatureView, HistorySpec, dict[str, str], list[tuple[WindowedAsk, int]]]] = {}
        for history in request.histories:
            by_history[history.view.name] = (history.view, history.spec, dict(history.columns), [])
        for index, windowed in enumerate(request.windowed):
            entry = by_history.setdefault(windowed.history.name, (windowed.history, windowed.history_spec, {}, []))
            entry[3].append((windowed, index))
        out: dict[str, Any] = {}
        for view, hspec, lists, views in by_history.values():
            asks = tuple(ViewAsk(w.spec, tuple(w.columns), tuple(w.columns.values()), i) for w, i in views)
            rows = _rows(spark, request, view, hspec, views)
            out |= _collect(engine.history_columns(plan, engine.HistoryAsk(hspec, lists, asks), rows),
                            len(request.plan))
        # the DuckDB engine's order: histories first, then the windowed views
        names = [c for h in request.histories for c in h.columns.values()]
        names += [c for w in request.windowed for c in w.columns.values()]
        return {name: out[name] for name in names}


def _collect(frame: DataFrame, rows: int) -> dict[str, Any]:
    """The columns of ``frame`` in row order: vectors Arrow-backed, lists and bytes as objects."""
    table = frame.toArrow().sort_by(ROW)
    if table.num_rows != rows:
        raise OfflineStoreError(f"the Spark engine returned {table.num_rows} rows for {rows} entity rows")
    out: dict[str, Any] = {}
    for name in table.column_names[1:]:
        column = table.column(name)
        if column.type == pa.list_(pa.float32()):
            out[name] = pd.arrays.ArrowExtensionArray(column.combine_chunks())
        elif pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
            out[name] = np.array([*column.to_pylist(), None], dtype=object)[:-1]
        else:
            out[name] = column.to_numpy()
    return out
