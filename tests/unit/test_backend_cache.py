"""BackendOnlineStore builds one backend per distinct store config, reuses it, and closes them all."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest
from feast.repo_config import RepoConfig

from feast_pinot.errors import OnlineStoreError
from feast_pinot.online.embedded import EmbeddedOnlineStore, EmbeddedOnlineStoreConfig
from feast_pinot.online.sqlite_backend import SqliteBackend

EMBEDDED = "feast_pinot.online.embedded.EmbeddedOnlineStore"


def _config(repo: Path, online_store: Any) -> RepoConfig:
    return RepoConfig(project="p", registry=str(repo / "registry.db"), provider="local", repo_path=repo,
                      online_store=online_store, entity_key_serialization_version=3)


class _Closing(SqliteBackend):
    closed: ClassVar[list[Path]] = []

    def close(self) -> None:
        self.closed.append(self._path)
        super().close()


class _Recording(EmbeddedOnlineStore):
    def __init__(self) -> None:
        super().__init__()
        self.built: list[Path] = []

    def build_backend(self, config: RepoConfig) -> SqliteBackend:
        backend = super().build_backend(config)
        self.built.append(backend._path)
        return _Closing(backend._path)


def test_one_backend_per_distinct_config_built_once(tmp_path: Path) -> None:
    store = _Recording()
    first = _config(tmp_path, {"type": EMBEDDED, "path": "a.db"})
    same = _config(tmp_path, {"type": EMBEDDED, "path": "a.db"})  # equal, not the same object
    other_repo = _config(tmp_path / "r2", {"type": EMBEDDED, "path": "a.db"})
    other_timeout = _config(tmp_path, {"type": EMBEDDED, "path": "a.db", "busy_timeout_ms": 5})
    backends = [store.backend(c) for c in (first, first, same, other_repo, other_timeout, first)]
    assert [backends.index(b) for b in backends] == [0, 0, 0, 3, 4, 0]
    assert store.built == [tmp_path / "a.db", tmp_path / "r2" / "a.db", tmp_path / "a.db"]


def test_close_closes_every_backend_and_the_next_use_builds_anew(tmp_path: Path) -> None:
    store = _Recording()
    _Closing.closed = []
    configs = [_config(tmp_path, {"type": EMBEDDED, "path": name}) for name in ("a.db", "b.db")]
    before = [store.backend(c) for c in configs]
    asyncio.run(store.close())
    assert sorted(_Closing.closed) == [tmp_path / "a.db", tmp_path / "b.db"]
    assert store.backend(configs[0]) is not before[0]
    assert len(store.built) == 3


def test_a_config_of_another_store_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path, {"type": "sqlite", "path": "x.db"})
    with pytest.raises(
        OnlineStoreError,
        match="^EmbeddedOnlineStore needs an online_store config of type EmbeddedOnlineStoreConfig, "
        "got SqliteOnlineStoreConfig$",
    ):
        EmbeddedOnlineStore().backend(config)
    assert EmbeddedOnlineStore.config_type is EmbeddedOnlineStoreConfig
