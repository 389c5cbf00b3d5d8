"""PinotOnlineStore: the Feast online store on Pinot REALTIME tables fed by Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feast import FeatureView
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig

from feast_pinot.actions import Action
from feast_pinot.online.adapter import BackendOnlineStore
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig

if TYPE_CHECKING:
    from feast_pinot.online.pinot.backend import PinotBackend

__all__ = ["PinotOnlineStore"]


class PinotOnlineStore(BackendOnlineStore["PinotBackend"]):
    """Feast online store on Pinot REALTIME tables fed by Kafka."""

    config_type = PinotOnlineStoreConfig

    def build_backend(self, config: RepoConfig) -> PinotBackend:
        from feast_pinot.online.pinot.backend import PinotBackend  # lazy: pinotdb, confluent_kafka

        return PinotBackend(config.online_store)

    def check_actions(self, store_config: Any, actions: Sequence[Action]) -> None:
        """:class:`PinotActionError` for actions holding a value Pinot would alter or could not match."""
        from feast_pinot.online.pinot.records import action_records  # lazy: as the backend

        action_records(actions, store_config.max_string_length)

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
