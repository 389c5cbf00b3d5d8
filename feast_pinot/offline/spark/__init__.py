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
* :mod:`~feast_pinot.offline.spark.job`: one call, and its result
  (``to_df``, ``to_arrow``, ``to_spark_df``, ``persist``).

Importing this package does not import pyspark;
:func:`historical_features` does, and says how to install it when missing.
"""

from __future__ import annotations

import importlib
from typing import Any

from feast_pinot.errors import OfflineStoreError

__all__ = ["historical_features"]


def historical_features(*args: Any) -> Any:
    """:func:`feast_pinot.offline.spark.job.spark_historical_features`, imported on first use."""
    try:
        job = importlib.import_module("feast_pinot.offline.spark.job")
    except ImportError as exc:
        raise OfflineStoreError(f"engine 'spark' needs pyspark: pip install 'feast-pinot[spark]' ({exc})") from exc
    return job.spark_historical_features(*args)
