"""Every schema and table config the store writes passes Pinot 1.3.0's, 1.4.0's and 1.5.1's own validation.

Pinot 1.x cannot run here (Maven Central serves none of its servers), but it
serves the modules that hold its config classes and validators. They are
fetched like the local cluster's jars (``local_cluster/maven/pinot-validator.xml``,
cached in ``.cache/local-cluster`` and ``~/.m2``), and ``java/PinotConfigCheck.java``
runs what the controller runs on ``POST /schemas`` and ``POST /tables``:
deserialize (noting properties Pinot does not know), ``SchemaUtils.validate``
with case-insensitive names, ``TableConfigUtils.validateTableName`` and
``TableConfigUtils.validate(tableConfig, schema)``. The configs are those of
the example repo and of a view holding every Feast type, written for that
release (its Kafka factory and stream keys).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from feast.repo_operations import parse_repo

from feast_pinot.online.adapter import _table_specs
from feast_pinot.online.backend import TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.layout import Layout
from local_cluster.artifacts import Runtime, fetch
from local_cluster.process import java_binary
from tests.fixtures.cluster import CACHE
from tests.integration.conftest import REPO_SOURCE
from tests.pinot.test_pinot_types import SCHEMA

CHECK = Path(__file__).parent / "java" / "PinotConfigCheck.java"
LAYOUT = Layout(PinotOnlineStoreConfig(controller_url="http://controller:9000", broker_url="http://broker:8099",
                                       kafka_bootstrap_servers="kafka:9092", name_prefix="prod_"))


class _Repo:
    project = "jobs"


def _specs() -> list[TableSpec]:
    views = parse_repo(REPO_SOURCE).feature_views
    example = _table_specs(_Repo(), views)  # type: ignore[arg-type]  # only .project is read
    assert {s.kind for s in example} == {"latest", "actions"} and len(example) >= 4
    every_type = TableSpec("types_all", "latest", columns=tuple((n, str(t)) for n, t in SCHEMA.items()))
    string_actor = TableSpec("types_actions", "actions", actor_is_int=False, embedding_dim=8, retention_ms=3_600_000)
    return [*example, every_type, string_actor]


def _check(runtime: Runtime, pairs: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    (tmp_path / "pairs.json").write_text(json.dumps(pairs))
    done = subprocess.run([java_binary(), "-cp", runtime.classpath, str(CHECK), str(tmp_path / "pairs.json")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def _controls(version: tuple[int, int, int]) -> list[dict[str, Any]]:
    """What the store now refuses or no longer writes: Pinot must refuse or flag each, or the check is void."""
    profile = TableSpec("clash", "latest", columns=(("score", "Int64"),))
    clashing = LAYOUT.schema(profile)
    clashing["dimensionFieldSpecs"].append({"name": "Score", "dataType": "LONG"})  # the store refuses this
    old = LAYOUT.table_config(profile, version)
    old["upsertConfig"]["comparisonColumn"] = "feast_event_ms"  # what the store wrote before
    no_time = LAYOUT.table_config(profile, version)
    del no_time["segmentsConfig"]["timeColumnName"]
    return [{"schema": clashing, "table": LAYOUT.table_config(profile, version)},
            {"schema": LAYOUT.schema(profile), "table": old},
            {"schema": LAYOUT.schema(profile), "table": no_time}]


@pytest.fixture(scope="module", params=["1.3.0", "1.4.0", "1.5.1"])
def checked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[list[TableSpec], list[dict[str, Any]], list[dict[str, Any]]]:
    """(specs, Pinot's verdict on each of their configs, its verdict on the controls), for one release."""
    version = tuple(map(int, request.param.split(".")))
    assert len(version) == 3
    specs = _specs()
    pairs = [{"schema": LAYOUT.schema(s), "table": LAYOUT.table_config(s, version)} for s in specs]  # type: ignore[arg-type]
    results = _check(fetch("pinot-validator", request.param, CACHE), pairs + _controls(version),  # type: ignore[arg-type]
                     tmp_path_factory.mktemp("validation"))
    return specs, results[: len(specs)], results[len(specs):]


def test_pinot_1x_accepts_every_config_the_store_writes(
    checked: tuple[list[TableSpec], list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    specs, results, _ = checked
    assert [r["table"] for r in results] == [LAYOUT.table(s.name) for s in specs]
    assert [r for r in results if not r["ok"] or r["unrecognized"]] == []


def test_the_check_is_pinots_own(checked: tuple[list[TableSpec], list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    """What the store now refuses or no longer writes, Pinot 1.x refuses or flags: the check can fail."""
    _, _, controls = checked
    assert not controls[0]["ok"] and "same lowercase column name" in controls[0]["error"]
    assert controls[1]["ok"]
    assert controls[1]["unrecognized"] == {"table/upsertConfig/comparisonColumn": "feast_event_ms"}
    assert not controls[2]["ok"]
