"""A bad ``feature_store.yaml`` entry fails when Feast loads it, naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from feast.repo_config import FeastConfigError, load_repo_config

from feast_pinot.offline_store import ActionLogOfflineStoreConfig
from feast_pinot.online.embedded import EmbeddedOnlineStoreConfig

EMBEDDED = {"type": "feast_pinot.online.embedded.EmbeddedOnlineStore"}
OFFLINE = {"type": "feast_pinot.offline_store.ActionLogOfflineStore"}


def _load(tmp_path: Path, online_store: dict[str, Any], offline_store: dict[str, Any]) -> Any:
    path = tmp_path / "feature_store.yaml"
    path.write_text(yaml.safe_dump({
        "project": "jobs", "provider": "local", "registry": "data/registry.db",
        "online_store": online_store, "offline_store": offline_store, "entity_key_serialization_version": 3}))
    return load_repo_config(tmp_path, path)


def test_the_example_settings_load(tmp_path: Path) -> None:
    config = _load(tmp_path, {**EMBEDDED, "path": "data/online.db", "busy_timeout_ms": 500}, OFFLINE)
    assert isinstance(config.online_store, EmbeddedOnlineStoreConfig)
    assert (config.online_store.path, config.online_store.busy_timeout_ms) == ("data/online.db", 500)
    assert isinstance(config.offline_store, ActionLogOfflineStoreConfig)


@pytest.mark.parametrize(("online", "offline", "key"), [
    ({**EMBEDDED, "pth": "x.db"}, OFFLINE, "pth"),
    ({**EMBEDDED, "busy_timeout_ms": 0}, OFFLINE, "busy_timeout_ms"),
    ({**EMBEDDED, "path": 17}, OFFLINE, "path"),
    (EMBEDDED, {**OFFLINE, "stagin_location": "s3://x"}, "stagin_location"),
])
def test_a_bad_entry_names_its_key(tmp_path: Path, online: dict[str, Any], offline: dict[str, Any], key: str) -> None:
    with pytest.raises(FeastConfigError) as caught:
        _load(tmp_path, online, offline)
    assert key in str(caught.value)
