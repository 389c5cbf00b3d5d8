"""Every Feast type through Feast's real API on PinotOnlineStore, read back exactly as on the embedded store.

Types Pinot has a column for map to it (``docs/pinot.md``); every other one
(``Map``, ``Json``, ``Struct``, ``Array(Bool)``, ``Array(UnixTimestamp)``,
``Array(Bytes)``, sets, ...) is kept in a JSON column. The expected values are
written out by hand; the embedded store must agree with them too.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    Set,
    String,
    Struct,
    UnixTimestamp,
)

from tests.fixtures.pinot import PinotEndpoints, pinot_settings

T1 = datetime(2026, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
T2 = datetime(2001, 9, 9, 1, 46, 40, tzinfo=timezone.utc)
SCHEMA = {
    "map": Map, "json": Json, "struct": Struct({"name": String, "rank": Int64}),
    "bools": Array(Bool), "times": Array(UnixTimestamp), "blobs": Array(Bytes),
    "tags": Set(String), "text": String, "count": Int32, "big": Int64, "ratio": Float32, "score": Float64,
    "flag": Bool, "blob": Bytes, "seen": UnixTimestamp, "floats": Array(Float32), "words": Array(String),
}
ROWS: list[dict[str, Any]] = [  # what is written, and read back
    {"map": {"a": 1, "b": "x", "nested": {"c": [1.5, 2.5]}}, "json": '{"k": [1, 2, null], "s": "\\u00e9\\u0000\'\\""}',
     "struct": {"name": "n", "rank": 7}, "bools": [True, False, True], "times": [T1, T2], "blobs": [b"\x00\xff", b""],
     "tags": {"a", "b"}, "text": "t", "count": -3, "big": 2**62, "ratio": 0.5, "score": 1e300, "flag": True,
     "blob": b"\x01\x02", "seen": T1, "floats": [0.25, -1.0], "words": ["x", ""]},
    {"map": {}, "json": '[1, "two"]', "struct": {"name": "", "rank": 0}, "bools": [], "times": [], "blobs": [],
     "tags": set(), "text": "", "count": 0, "big": 0, "ratio": 0.0, "score": 0.0, "flag": False,
     "blob": b"", "seen": T2, "floats": [], "words": []},
]


def _repo(root: Path, online_store: dict[str, Any]) -> tuple[FeatureStore, FeatureView]:
    root.mkdir(parents=True)
    (root / "feature_store.yaml").write_text(yaml.safe_dump({
        "project": "types", "provider": "local", "registry": str(root / "registry.db"),
        "online_store": online_store, "entity_key_serialization_version": 3}))
    store = FeatureStore(repo_path=str(root))
    item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="all_types", entities=[item], ttl=timedelta(days=3650),
        schema=[Field(name="item_id", dtype=Int64)] + [Field(name=n, dtype=t) for n, t in SCHEMA.items()],
        source=FileSource(name="all_types_source", path=str(root / "unused.parquet"), timestamp_field="ts"),
    )
    store.apply([item, view])
    return store, view


def _round_trip(store: FeatureStore) -> dict[str, list[Any]]:
    frame = pd.DataFrame([{"item_id": i + 1, **row} for i, row in enumerate(ROWS)])
    frame["ts"] = pd.Timestamp("2026-03-01", tz="UTC")
    store.write_to_online_store("all_types", frame)
    got = store.get_online_features(features=[f"all_types:{n}" for n in SCHEMA],
                                    entity_rows=[{"item_id": i} for i in (1, 2, 3)]).to_dict()
    return {n: got[n] for n in SCHEMA}


def _expected() -> dict[str, list[Any]]:
    expected = {n: [row[n] for row in ROWS] + [None] for n in SCHEMA}
    # Feast parses Json text; the frame's way through Arrow makes the maps one struct type
    # (absent keys None, ints as the column's float): the same on every store.
    expected["json"] = [{"k": [1, 2, None], "s": "é\0'\""}, [1, "two"], None]
    expected["map"] = [{"a": 1.0, "b": "x", "nested": {"c": [1.5, 2.5]}}, {"a": None, "b": None, "nested": None},
                       None]
    return expected


@pytest.fixture
def pinot_store_settings(pinot_endpoints: PinotEndpoints, pinot_prefix: str) -> dict[str, Any]:
    return pinot_settings(pinot_endpoints, pinot_prefix)


def test_every_type_round_trips_on_pinot_as_on_the_embedded_store(
    tmp_path: Path, pinot_store_settings: dict[str, Any]
) -> None:
    pinot, _ = _repo(tmp_path / "pinot", pinot_store_settings)
    embedded, _ = _repo(tmp_path / "embedded", {"type": "feast_pinot.online.embedded.EmbeddedOnlineStore",
                                                 "path": str(tmp_path / "online.db")})
    expected = _expected()
    assert _round_trip(embedded) == expected
    got = _round_trip(pinot)
    assert got == expected
    assert got["ratio"][0] == 0.5 and got["score"][0] == 1e300  # floats exact, not approximately
    pinot.teardown()
