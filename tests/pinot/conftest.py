"""The example repo switched to PinotOnlineStore (the stand-in, or PINOT_* Pinot)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from feast import FeatureStore

from demo.synthetic import Scenario, write_batch_sources
from feast_pinot.online.pinot import STORE_TYPE
from tests.integration.conftest import REPO_SOURCE, run_feast
from tests.pinot_standin import ControllerTiming, PinotStandIn


def switch_to_pinot(repo: Path, settings: dict[str, Any]) -> None:
    """Point the repo's feature_store.yaml at PinotOnlineStore: the documented one-block change."""
    path = repo / "feature_store.yaml"
    config = yaml.safe_load(path.read_text())
    config["online_store"] = {"type": STORE_TYPE, **settings}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def make_pinot_repo(dest: Path, scenario: Scenario, settings: dict[str, Any]) -> FeatureStore:
    """Copy the example repo, switch it to Pinot, write its batch sources, apply, materialize."""
    shutil.copytree(REPO_SOURCE, dest, ignore=shutil.ignore_patterns("data", "__pycache__"))
    switch_to_pinot(dest, settings)
    write_batch_sources(dest, scenario)
    run_feast(dest, "apply")
    store = FeatureStore(repo_path=str(dest))
    store.materialize(
        datetime(2000, 1, 1, tzinfo=timezone.utc),
        datetime.fromtimestamp(scenario.end_ms / 1000 + 86400, tz=timezone.utc),
    )
    return store


@pytest.fixture
def timed_standin(kafka_bootstrap: str) -> Iterator[Callable[[ControllerTiming], PinotStandIn]]:
    """``start(timing)``: a stand-in of its own with Pinot's asynchronous steps slowed down."""
    started: list[PinotStandIn] = []

    def start(timing: ControllerTiming) -> PinotStandIn:
        started.append(PinotStandIn(timing).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()
