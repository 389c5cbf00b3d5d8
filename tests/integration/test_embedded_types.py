"""The embedded store keeps every Feast type of an ordinary view as Feast's own SQLite store does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bytes, Float32, Int64, String, UnixTimestamp

FEAST_SQLITE = {"type": "sqlite", "path": "data/feast_online.db"}
EMBEDDED = {"type": "feast_pinot.online.embedded.EmbeddedOnlineStore", "path": "data/online.db"}
T0 = datetime(2026, 1, 5, 12, 30, 15, tzinfo=timezone.utc)


def _store(root: Path, online_store: dict[str, str]) -> FeatureStore:
    import yaml

    (root / "data").mkdir(parents=True)
    config = {"project": "types", "provider": "local", "registry": "data/registry.db",
              "online_store": online_store, "entity_key_serialization_version": 3,
              "offline_store": {"type": "file"}}
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    frame = _frame()
    frame.to_parquet(root / "data" / "things.parquet", index=False)
    thing = Entity(name="thing", join_keys=["thing_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="things", entities=[thing], ttl=timedelta(days=3650),
        schema=[Field(name="thing_id", dtype=Int64), Field(name="seen", dtype=UnixTimestamp),
                Field(name="visits", dtype=Array(UnixTimestamp)), Field(name="blob", dtype=Bytes),
                Field(name="score", dtype=Float32), Field(name="label", dtype=String)],
        source=FileSource(name="things_source", path="data/things.parquet", timestamp_field="event_timestamp"),
    )
    store = FeatureStore(repo_path=str(root))
    store.apply([thing, view])
    return store


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "thing_id": [1, 2, 3],
        "seen": [T0, T0 + timedelta(days=400), T0 - timedelta(seconds=1)],
        "visits": [[T0, T0 + timedelta(hours=1)], [], [T0 - timedelta(days=3)]],
        "blob": [b"\x00\xffraw", b"", "é".encode()],
        "score": [0.5, -1.25, 3.0],
        "label": ["a", "b", "c"],
        "event_timestamp": [T0] * 3,
    })


FEATURES = ["things:seen", "things:visits", "things:blob", "things:score", "things:label"]


def _read(store: FeatureStore) -> dict[str, Any]:
    rows = [{"thing_id": i} for i in (1, 2, 3, 4)]
    return store.get_online_features(features=FEATURES, entity_rows=rows).to_dict()


@pytest.mark.parametrize("how", ["materialize", "write_to_online_store"])
def test_timestamps_timestamp_lists_and_bytes_round_trip_like_feast_sqlite(tmp_path: Path, how: str) -> None:
    results = []
    for name, online in (("feast", FEAST_SQLITE), ("embedded", EMBEDDED)):
        store = _store(tmp_path / name, online)
        if how == "materialize":
            store.materialize(T0 - timedelta(days=1), T0 + timedelta(days=1))
        else:
            store.write_to_online_store("things", _frame())
        results.append(_read(store))
    feast, embedded = results
    assert embedded == feast
    assert embedded["blob"][:3] == [b"\x00\xffraw", b"", "é".encode()]
    assert embedded["seen"][1] == T0 + timedelta(days=400)
