"""The Spark engine over action logs on S3 (the session's S3Proxy): the parity replay three ways again.

The logs are ``s3://`` roots, as the ingester and ``push_actions`` write them;
Spark has no ``s3://`` connector here (Hadoop's ``s3a`` needs a 686 MB AWS SDK
bundle), so the driver lists the parts and the tasks read them with pyarrow
(:mod:`feast_pinot.offline.spark.log`). The tasks get the S3 settings as a
deployment gives them to executors (``spark.executorEnv.*``, here the running
context's executor environment), in local mode and on the standalone cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.s3 import S3Server
from tests.integration.test_parity import parity_online_store, replay  # noqa: F401 - the replay, on S3
from tests.integration.test_parity_s3 import parity_log_root  # noqa: F401
from tests.spark.test_spark_engine import duckdb_replay, test_the_parity_replay_three_ways  # noqa: F401


@pytest.fixture(autouse=True)
def executors_reach_s3(spark_session: Any, s3_server: S3Server) -> Iterator[None]:
    environment = spark_session.sparkContext.environment  # shipped with every Python function the tasks run
    settings = s3_server.client_env()
    environment.update(settings)
    yield
    for key in settings:
        environment.pop(key, None)
