"""The Spark session the engine runs in: the active one, or one built from ``spark_conf``."""

from __future__ import annotations

import os
import sys

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline.spark.config import SparkEngineConfig

__all__ = ["spark_session"]

# what every session the engine builds needs, under the user's spark_conf
_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def spark_session(config: SparkEngineConfig) -> SparkSession:
    """The active session (a notebook's, ``spark-submit``'s): used as it is; else one from ``spark_conf``.

    Java missing or a session that cannot start is an :class:`OfflineStoreError` saying so.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("feast-pinot")
    settings = {**_DEFAULTS, **config.spark_conf}
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except (PySparkException, OSError, RuntimeError) as exc:
        raise OfflineStoreError(f"engine 'spark' could not start a Spark session (Java 17 or 21 on PATH or "
                                f"JAVA_HOME, spark_conf {config.spark_conf}): {exc}") from exc
    if settings.get("spark.master", "local").startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # local mode: the Python workers run this interpreter (with feast_pinot), not whatever python3 is on PATH
        session.sparkContext.pythonExec = sys.executable
    return session
