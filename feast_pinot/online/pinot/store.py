"""PinotOnlineStore: the Feast online store on Pinot REALTIME tables fed by Kafka."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from feast import FeatureView
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig

from feast_pinot.errors import OnlineStoreError
from feast_pinot.online.adapter import BackendOnlineStore
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

if TYPE_CHECKING:
    from feast_pinot.online.pinot.backend import PinotBackend

__all__ = ["PinotOnlineStore"]


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
                from feast_pinot.online.pinot.backend import PinotBackend  # lazy: pinotdb, confluent_kafka

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
