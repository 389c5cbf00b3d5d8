"""The Spark engine's options in ``feature_store.yaml`` (no pyspark here: the store's config imports it).

::

    offline_store:
      type: feast_pinot.offline.ActionLogOfflineStore
      engine: spark
      spark:
        spark_conf: {spark.master: "local[2]"}   # only when no SparkSession is active
        actor_buckets: 400                        # default: the session's spark.sql.shuffle.partitions
        time_slab_hours: 168                      # default: no slabs (one group per bucket)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SparkEngineConfig"]


class SparkEngineConfig(BaseModel):
    """How the Spark engine groups the work.

    * ``spark_conf``: the settings of the session built when none is active
      (a notebook's, ``spark-submit``'s or a cluster's session is used as it is);
    * ``actor_buckets``: actors are hashed into this many buckets; one Python
      call per bucket (and time slab) computes every row of its actors;
    * ``time_slab_hours``: against hot actors, rows are also grouped by the slab
      of their time, each action copied into the slabs whose rows can see it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spark_conf: dict[str, str] = Field(default_factory=dict)
    actor_buckets: int | None = Field(default=None, gt=0)
    time_slab_hours: int | None = Field(default=None, gt=0)
