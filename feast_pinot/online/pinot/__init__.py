"""Feast on Apache Pinot: the production online store.

``feature_store.yaml``::

    online_store:
      type: feast_pinot.online.pinot.PinotOnlineStore
      controller_url: http://localhost:9000
      broker_url: http://localhost:8099
      kafka_bootstrap_servers: localhost:9092
      stream_bootstrap_servers: kafka:9093   # Kafka as Pinot's servers see it, if different

``feast apply`` creates a Kafka topic, a schema and a REALTIME table per feature
view; writes go to the topics, reads to the broker. Every option is documented
on :class:`PinotOnlineStoreConfig` and in ``docs/pinot.md``.
"""

from __future__ import annotations

# Feast finds the config class as ``<store class>Config`` in the module of the
# ``type:`` path, so both live at the package's top.
from feast_pinot.online.pinot.settings import STORE_TYPE, PinotOnlineStoreConfig
from feast_pinot.online.pinot.store import PinotOnlineStore

__all__ = ["STORE_TYPE", "PinotOnlineStore", "PinotOnlineStoreConfig"]
