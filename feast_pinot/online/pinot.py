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

import asyncio
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from feast import FeatureView
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import ConfigDict, Field, SecretStr, StrictBool, StrictStr, field_validator, model_validator

from feast_pinot.errors import OnlineStoreError
from feast_pinot.online.adapter import BackendOnlineStore

if TYPE_CHECKING:
    from feast_pinot.online.pinot_backend import PinotBackend

__all__ = ["PinotOnlineStore", "PinotOnlineStoreConfig", "STORE_TYPE"]

STORE_TYPE: Literal["feast_pinot.online.pinot.PinotOnlineStore"] = "feast_pinot.online.pinot.PinotOnlineStore"
_URL = re.compile(r"https?://[^\s/]+(/[^\s]*)?")
_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9_]*)?")


class PinotOnlineStoreConfig(FeastConfigBaseModel):
    """Where Pinot and Kafka are, how tables are named, and how long to wait.

    Frozen and strict: an unknown key, a malformed URL or a half-given credential
    fails ``feast apply`` when the yaml is loaded, not at the first read. (It lives
    here because Feast looks for the store class in the config class's module.)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=True)

    type: Literal["feast_pinot.online.pinot.PinotOnlineStore"] = STORE_TYPE

    controller_url: StrictStr
    """Pinot controller, e.g. ``http://localhost:9000``: schemas and tables (``feast apply``/``teardown``)."""

    broker_url: StrictStr
    """Pinot broker, e.g. ``http://localhost:8099``: every online read. Serving needs only this and Kafka."""

    kafka_bootstrap_servers: StrictStr = Field(min_length=1)
    """Kafka for the write path (materialize, push, the ingester's online sink)."""

    stream_bootstrap_servers: StrictStr | None = None
    """Kafka as Pinot's servers reach it (``stream.kafka.broker.list``); default: ``kafka_bootstrap_servers``."""

    name_prefix: StrictStr = ""
    """Prepended to every table, schema and topic name (``{prefix}{project}_{view}``)."""

    topic_partitions: int = Field(default=1, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    replication: int = Field(default=1, ge=1)
    """Pinot segment replicas per partition (``segmentsConfig.replication``)."""

    consumer_factory: StrictStr = "org.apache.pinot.plugin.stream.kafka30.KafkaConsumerFactory"
    """Pinot's Kafka plugin: ``kafka30`` from Pinot 1.3 on; ``...kafka20.KafkaConsumerFactory`` for 1.0-1.2."""

    stream_properties: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    """Extra stream config entries for Pinot's consumer, e.g. ``stream.kafka.consumer.prop.security.protocol``."""

    kafka_producer_config: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    """Extra librdkafka producer settings, e.g. ``security.protocol``, ``sasl.mechanisms``."""

    username: StrictStr | None = None
    password: SecretStr | None = None
    """HTTP Basic credentials for the controller and the broker (both or neither)."""

    query_timeout_ms: int = Field(default=1000, gt=0)
    """Pinot's ``timeoutMs`` for each read; past it the broker answers with an error."""

    http_timeout_s: float = Field(default=5.0, gt=0)
    """Client-side limit on one HTTP call (pinotdb has none by default)."""

    write_timeout_s: float = Field(default=30.0, gt=0)
    """How long a write waits for Kafka to acknowledge it."""

    retention_hours: int | None = Field(default=None, gt=0)
    """Retention of action-log tables (``retentionTimeValue`` in HOURS); by default
    each log's declared retention rounded up to whole hours."""

    max_string_length: int = Field(default=512, gt=0)
    """``maxLength`` of STRING columns; longer values are refused on write instead of truncated by Pinot."""

    wait_for_ingestion: StrictBool = False
    """Writes return only once Pinot serves them (tests, demos, backfills that read right after)."""

    ingestion_timeout_s: float = Field(default=30.0, gt=0)
    """Deadline for ``wait_for_ingestion`` and for a new table to become queryable."""

    @field_validator("controller_url", "broker_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _URL.fullmatch(value):
            raise ValueError(f"must be an http(s) URL such as http://localhost:9000, got {value!r}")
        return value.rstrip("/")

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value) or "__" in value:
            raise ValueError(f"must start with a letter and hold only letters, digits and single '_', got {value!r}")
        return value

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> "PinotOnlineStoreConfig":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        return self

    @property
    def stream_servers(self) -> str:
        return self.stream_bootstrap_servers or self.kafka_bootstrap_servers

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password.get_secret_value()




class PinotOnlineStore(BackendOnlineStore):
    """Feast online store on Pinot REALTIME tables fed by Kafka."""

    def __init__(self) -> None:
        self._backends: dict[str, PinotBackend] = {}
        self._last: tuple[PinotOnlineStoreConfig, PinotBackend] | None = None
        self._lock = threading.Lock()

    def backend(self, config: RepoConfig) -> PinotBackend:
        store_config = config.online_store
        if not isinstance(store_config, PinotOnlineStoreConfig):
            raise OnlineStoreError(
                f"PinotOnlineStore needs a PinotOnlineStoreConfig, got {type(store_config).__name__}"
            )
        last = self._last
        if last is not None and last[0] is store_config:  # every read: no serialisation on the hot path
            return last[1]
        key = store_config.model_dump_json()  # one backend (and connection pool) per distinct config
        with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                from feast_pinot.online.pinot_backend import PinotBackend  # lazy: pinotdb, confluent_kafka

                backend = self._backends[key] = PinotBackend(store_config)
            self._last = (store_config, backend)
        return backend

    @property
    def async_supported(self) -> SupportedAsyncMethods:
        return SupportedAsyncMethods(read=True)

    async def online_read_async(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, ValueProto] | None]]:
        # The broker call blocks in httpx; a worker thread keeps the server's event loop
        # free, and Feast gathers the feature views' reads concurrently.
        return await asyncio.to_thread(self.online_read, config, table, entity_keys, requested_features)

    async def close(self) -> None:
        with self._lock:
            backends, self._backends, self._last = list(self._backends.values()), {}, None
        for backend in backends:
            backend.close()
