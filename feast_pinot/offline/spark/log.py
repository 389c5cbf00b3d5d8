"""An action log's Parquet parts as a Spark DataFrame: deduplicated as the DuckDB engine does.

* an action whose embedding is not finite (NaN, infinite) is dropped first,
  as :mod:`feast_pinot.offline.log` drops it (online it was refused); an
  embedding of another length than the log's fails the job, naming the part;
* then the first written copy of each ``action_id`` in the whole log counts,
  whoever the actor: the smallest (part name, part path, row in part). Part
  names start with their write time, so this is write order; listing order
  is never trusted. Decided before any actor is picked, so the entity rows
  cannot change which copy counts.

The path is any path Spark reads: a local folder, ``hdfs://``, ``s3a://``.
"""

from __future__ import annotations

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

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


def _parts(spark: SparkSession, path: str, log: ActionLogSpec) -> DataFrame:
    reader = (spark.read.schema(_schema(log)).option("recursiveFileLookup", "true")
              .option("pathGlobFilter", "*.parquet"))
    try:
        return reader.parquet(path)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" not in str(exc):
            raise
        return spark.createDataFrame([], _schema(log))  # a log nobody wrote to yet


def _finite(log: ActionLogSpec) -> Column:
    """True for a finite embedding; one of another length fails the job."""
    dim = log.embedding_dim
    wrong = F.raise_error(F.concat(F.lit(f"action log '{log.name}': an embedding of a length other than {dim} in "),
                                   F.col("_metadata.file_path")))
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
    pos = F.struct(F.col("_metadata.file_name"), F.col("_metadata.file_path"), F.col("_metadata.row_index"))
    first = (raw.select("action_id", F.struct(*kept).alias("a"), pos.alias("pos"))
             .groupBy("action_id").agg(F.min_by("a", "pos").alias("a")))
    return first.select("a.actor", "action_id", "a.ts", "a.verb_no", *[f"a.{c}" for c in columns])
