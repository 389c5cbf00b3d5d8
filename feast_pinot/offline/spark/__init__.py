"""The Spark engine of the training data (``engine: spark``; install ``feast-pinot[spark]``).

The same engine as DuckDB's (:mod:`feast_pinot.offline.engine`, the families
of :mod:`feast_pinot.features`), run inside Spark tasks: Spark reads and
deduplicates the log, groups rows and actions by actor bucket (and time
slab), and each group's Python call computes its rows.

* :mod:`~feast_pinot.offline.spark.config`: the options (no pyspark: the
  store's config imports it);
* :mod:`~feast_pinot.offline.spark.session`: the active session, or one built
  from ``spark_conf``;
* :mod:`~feast_pinot.offline.spark.log`: the log's parts, deduplicated;
* :mod:`~feast_pinot.offline.spark.tasks`: what runs inside the tasks;
* :mod:`~feast_pinot.offline.spark.engine`: the grouping, per history;
* :mod:`~feast_pinot.offline.spark.seam`: :class:`SparkEngine`, what the
  offline store's engine seam (:mod:`feast_pinot.offline.engines`) asks.

Importing this package does not import pyspark; the store imports the
engine on first use (``engine: spark``).
"""
