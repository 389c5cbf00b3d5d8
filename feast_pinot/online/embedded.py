"""The embedded default online store: one local SQLite file, zero setup.

``feature_store.yaml``::

    online_store:
      type: feast_pinot.online.embedded.EmbeddedOnlineStore
      path: data/online_store.db      # relative to the feature repo
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import Field, StrictStr

from feast_pinot.online.adapter import BackendOnlineStore
from feast_pinot.online.sqlite_backend import SqliteBackend

__all__ = ["EmbeddedOnlineStore", "EmbeddedOnlineStoreConfig"]


class EmbeddedOnlineStoreConfig(FeastConfigBaseModel):
    """Configuration of :class:`EmbeddedOnlineStore`."""

    type: Literal["feast_pinot.online.embedded.EmbeddedOnlineStore"] = (
        "feast_pinot.online.embedded.EmbeddedOnlineStore"
    )
    path: StrictStr = "data/online_store.db"
    """The SQLite file; a relative path is resolved against the feature repo."""

    busy_timeout_ms: int = Field(default=30_000, gt=0)
    """How long a write waits for another process's write to finish."""


class EmbeddedOnlineStore(BackendOnlineStore[SqliteBackend]):
    """Feast online store on a local SQLite file (WAL mode, multi-process safe)."""

    config_type = EmbeddedOnlineStoreConfig

    def build_backend(self, config: RepoConfig) -> SqliteBackend:
        store_config = config.online_store
        path = Path(store_config.path)
        if not path.is_absolute() and config.repo_path is not None:
            path = Path(config.repo_path) / path
        return SqliteBackend(path.resolve(), store_config.busy_timeout_ms)
