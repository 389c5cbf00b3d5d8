"""A local Apache Pinot + Apache Kafka for trying PinotOnlineStore and for the tests, without Docker.

``python -m local_cluster`` fetches both from Maven Central (cached in
``.cache/local-cluster`` and ``~/.m2``), starts them on 127.0.0.1 and stops them
on Ctrl-C or SIGTERM; ``tests/fixtures/cluster.py`` starts the same cluster once
per test session.

The development tools around it live here too (the product packages ship none):
``tansu.py`` (a JVM-free Kafka-protocol broker), ``topics.py`` (create, produce,
read back), ``ingester.py`` (``python -m stream_ingest`` as a subprocess) and
``polling.py`` (``eventually``: waiting on a condition).
"""

from .cluster import KAFKA_VERSION, PINOT_VERSION, ClusterEndpoints, fetch_runtimes, local_cluster
from .errors import FetchError, LocalClusterError, StartError

__all__ = [
           "KAFKA_VERSION",
           "PINOT_VERSION",
           "ClusterEndpoints",
           "FetchError",
           "LocalClusterError",
           "StartError",
           "fetch_runtimes",
           "local_cluster",
]
