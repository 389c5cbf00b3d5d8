"""An action log's Parquet parts as a Spark DataFrame: deduplicated as the DuckDB engine does.

* an action whose embedding is not finite (NaN, infinite) is dropped first,
  as :mod:`feast_pinot.offline.log` drops it (online it was refused); an
  embedding of another length than the log's fails the job, naming the part;
* then the first written copy of each ``action_id`` in the whole log counts,
  whoever the actor: the smallest (part name, part path, row in part). Part
  names start with their write time, so this is write order; listing order
  is never trusted. Decided before any actor is picked, so the entity rows
  cannot change which copy counts.

The path is a local folder or a path Spark reads itself (``hdfs://``,
``s3a://`` with Hadoop's S3 connector on the cluster). A URI of a filesystem
only pyarrow knows (``s3://``, ``gs://``: the URIs the ingester and
``push_actions`` write) is read by pyarrow inside the tasks: the driver lists
the parts (:mod:`feast_pinot.offline.parts`, name order) and each task reads
its parts with the same filesystem layer, so no connector jar is needed. The
executors then need the log's credentials in their environment, as the
driver does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from feast_pinot.offline.parts import log_parts
from feast_pinot.offline.storage import open_log
from feast_pinot.specs import ActionLogSpec

__all__ = ["read_actions"]


def _schema(log: ActionLogSpec) -> T.StructType:
    fields = [
        T.StructField(log.actor_join_key, T.LongType() if log.actor_is_int else T.StringType()),
        T.StructField("action_id", T.StringType()),
        T.StructField("verb", T.StringType()),
        T.StructField("object", T.StringType()),
        T.StructField("event_timestamp", T.TimestampType()),
    ]
    if log.embedding_dim:
        fields.append(T.StructField("embedding", T.ArrayType(T.FloatType())))
    return T.StructType(fields)


# where each row comes from: the first-written rule orders by (name, path, row)
_WHERE = T.StructType([T.StructField("file_name", T.StringType()), T.StructField("file_path", T.StringType()),
                       T.StructField("row_index", T.LongType())])
_SPARK_READS = ("file", "hdfs", "s3a", "abfs", "abfss", "wasb", "wasbs")  # with the cluster's Hadoop connectors


def _parts(spark: SparkSession, path: str, log: ActionLogSpec) -> DataFrame:
    """The parts' rows with a ``where`` column (file name, path, row index)."""
    scheme = path.split("://", 1)[0] if "://" in path else "file"
    if scheme not in _SPARK_READS:
        return _parts_through_pyarrow(spark, path, log)
    reader = (spark.read.schema(_schema(log)).option("recursiveFileLookup", "true")
              .option("pathGlobFilter", "*.parquet"))
    try:
        raw = reader.parquet(path)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" not in str(exc):
            raise
        return spark.createDataFrame([], T.StructType([*_schema(log).fields, T.StructField("where", _WHERE)]))
    return raw.withColumn("where", F.struct(F.col("_metadata.file_name").alias("file_name"),
                                            F.col("_metadata.file_path").alias("file_path"),
                                            F.col("_metadata.row_index").alias("row_index")))


def _parts_through_pyarrow(spark: SparkSession, root: str, log: ActionLogSpec) -> DataFrame:
    """A log on a filesystem only pyarrow reads: the parts listed here, read by the tasks."""
    schema = T.StructType([*_schema(log).fields, T.StructField("where", _WHERE)])
    paths = log_parts(root).paths
    if not paths:
        return spark.createDataFrame([], schema)
    columns = [f.name for f in _schema(log).fields]

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        store = open_log(root)  # in the task: filesystems are not pickled
        for batch in batches:
            for part in batch.column("path").to_pylist():
                table = pq.read_table(part, filesystem=store.fs, columns=columns)
                times = table.column("event_timestamp").cast(pa.timestamp("us", tz="UTC"))  # Spark's TimestampType
                table = table.set_column(table.schema.get_field_index("event_timestamp"), "event_timestamp", times)
                n = table.num_rows
                where = pa.StructArray.from_arrays(
                    [pa.array([part.rsplit("/", 1)[-1]] * n), pa.array([part] * n), pa.array(range(n), pa.int64())],
                    names=["file_name", "file_path", "row_index"])
                yield from table.append_column("where", where).to_batches()

    listed = spark.createDataFrame([(p,) for p in paths], "path string")
    return listed.repartition(min(len(paths), spark.sparkContext.defaultParallelism)).mapInArrow(read, schema)


def _finite(log: ActionLogSpec) -> Column:
    """True for a finite embedding; one of another length fails the job."""
    dim = log.embedding_dim
    wrong = F.raise_error(F.concat(F.lit(f"action log '{log.name}': an embedding of a length other than {dim} in "),
                                   F.col("where.file_path")))
    return F.when(F.coalesce(F.size("embedding"), F.lit(-1)) != dim, wrong).otherwise(
        F.forall("embedding", lambda x: ~F.isnan(x) & (F.abs(x) < F.lit(float("inf")))))


def read_actions(spark: SparkSession, path: str, log: ActionLogSpec, columns: tuple[str, ...]) -> DataFrame:
    """The log's deduplicated actions: ``actor``, ``action_id``, ``ts`` (epoch ms), ``verb_no`` and ``columns``.

    ``verb_no`` is the verb's 1-based position in the log's verbs (0 for
    another); ``columns`` picks among ``verb``, ``object``, ``embedding``.
    """
    raw = _parts(spark, path, log)
    if log.embedding_dim:
        raw = raw.where(_finite(log))
    kept = [F.col(log.actor_join_key).alias("actor"), F.unix_millis("event_timestamp").alias("ts"),
            F.array_position(F.array(*[F.lit(v) for v in log.verbs]), F.col("verb")).alias("verb_no"),
            *[F.col(c) for c in columns]]
    first = (raw.select("action_id", F.struct(*kept).alias("a"), F.col("where").alias("pos"))
             .groupBy("action_id").agg(F.min_by("a", "pos").alias("a")))
    return first.select("a.actor", "action_id", "a.ts", "a.verb_no", *[f"a.{c}" for c in columns])
