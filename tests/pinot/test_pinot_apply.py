"""``feast apply`` on Pinot is all or nothing, and takes any name Feast takes.

Every view's names, types and limits are checked before a topic exists; a
failure part-way (Pinot refusing the third table of an apply) removes the
topics, schemas and tables that apply created, and leaves what existed before.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Int64, String

from feast_pinot.online.backend import LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.pinot.errors import PinotSchemaError
from feast_pinot.online.pinot.layout import pinot_name
from tests.fixtures.pinot import pinot_settings
from tests.pinot.conftest import Proxied, named_with

A = TableSpec("a_first", "latest", columns=(("v", "Int64"),))
B = TableSpec("a_second", "actions", actor_is_int=True, retention_ms=3_600_000)
C = TableSpec("a_third", "latest", columns=(("w", "String"),))


@pytest.fixture
def backend(proxied: Proxied, pinot_prefix: str) -> PinotBackend:
    return PinotBackend(PinotOnlineStoreConfig(**pinot_settings(proxied.endpoints, pinot_prefix)))


@pytest.mark.parametrize(("bad", "message"), [
    (TableSpec("a_bad", "latest", columns=(("Score", "Int64"), ("score", "Int64"))),
     r"columns 'Score' and 'score' differ only in case; Pinot 1.x reads column names ignoring case"),
    (TableSpec("a_bad", "latest", columns=(("feast_event_ms", "Int64"),)), r"not starting with 'feast_'"),
    (TableSpec("a_bad", "latest", columns=(("v", "Invalid"),)), r"feature 'v' has Feast type Invalid"),
])
def test_a_refused_view_creates_nothing_at_all(
    backend: PinotBackend, proxied: Proxied, pinot_prefix: str, bad: TableSpec, message: str
) -> None:
    start = len(proxied.controller.requests)
    with pytest.raises(PinotSchemaError, match=message):
        backend.create_tables([A, B, bad])
    assert [r.method for r in proxied.controller.since(start, pinot_prefix)] == []  # not even a GET
    assert named_with(proxied.endpoints, pinot_prefix) == ([], [], [])


def test_a_failure_part_way_removes_what_this_apply_created(
    backend: PinotBackend, proxied: Proxied, pinot_prefix: str
) -> None:
    backend.create_tables([A])  # exists before: must survive the failed apply
    backend.write_latest(A.name, [LatestRow("k", 1, {"v": 5})])
    third = backend._layout.table(C.name)
    refusal = json.dumps({"code": 500, "error": "Pinot could not create it"}).encode()
    proxied.controller.inject(rf'^POST /tables .*"tableName": ?"{third}"', status=500, body=refusal)
    with pytest.raises(PinotSchemaError, match="POST /tables answered 500: Pinot could not create it"):
        backend.create_tables([A, B, C])
    a = backend._layout.table(A.name)
    assert named_with(proxied.endpoints, pinot_prefix) == ([a], [a], [a])
    assert backend.read_latest(A.name, ["k"]) == [LatestRow("k", 1, {"v": 5})]
    backend.create_tables([A, B, C])  # and the same apply works once Pinot takes it
    assert len(named_with(proxied.endpoints, pinot_prefix)[0]) == 3


@pytest.mark.parametrize("name", ["trailing_", "double__under", "with-hyphen", "ünïcødé", "x" * 240, "9lives"])
def test_any_name_feast_takes_maps_to_one_safe_pinot_name(name: str) -> None:
    mapped = pinot_name(name)
    assert mapped == pinot_name(name)  # the same every time
    assert len(mapped) <= 150 and "__" not in mapped and not mapped.endswith("_") and mapped[0].isalpha()
    assert mapped.isascii() and mapped.replace("_", "").isalnum()
    assert pinot_name(name + "_") != mapped and pinot_name(name.upper()) != mapped
    assert pinot_name("member_actions") == "member_actions"  # names that were fine stay as they were


def test_views_feast_names_freely_apply_read_and_tear_down(
    tmp_path: Path, proxied: Proxied, pinot_prefix: str
) -> None:
    """A view named ``test_consistency_`` (as in Feast's own e2e test) used to leave a topic and a schema."""
    (tmp_path / "feature_store.yaml").write_text(yaml.safe_dump({
        "project": "names", "provider": "local", "registry": str(tmp_path / "registry.db"),
        "online_store": pinot_settings(proxied.endpoints, pinot_prefix), "entity_key_serialization_version": 3}))
    store = FeatureStore(repo_path=str(tmp_path))
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(name="src", path=str(tmp_path / "unused.parquet"), timestamp_field="ts")
    views = [FeatureView(name=name, entities=[user], source=source,
                         schema=[Field(name="user_id", dtype=Int64), Field(name="note", dtype=String)])
             for name in ("test_consistency_", "with-hyphen", "dots.and spaces")]
    store.apply([user, *views])
    for view in views:
        frame = pd.DataFrame({"user_id": [1], "note": [view.name], "ts": [pd.Timestamp("2026-01-01", tz="UTC")]})
        store.write_to_online_store(view.name, frame)
    got = store.get_online_features(features=[f"{v.name}:note" for v in views], entity_rows=[{"user_id": 1}],
                                    full_feature_names=True).to_dict()
    assert [got[f"{v.name}__note"] for v in views] == [[v.name] for v in views]
    assert len(named_with(proxied.endpoints, pinot_prefix)[0]) == 3
    store.teardown()
    assert named_with(proxied.endpoints, pinot_prefix) == ([], [], [])
