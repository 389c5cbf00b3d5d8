"""Feature-repo fixtures: a copy of the example repo, applied with the real CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from feast import FeatureStore

from demo.synthetic import Scenario, write_batch_sources

REPO_SOURCE = Path(__file__).resolve().parents[2] / "feature_repo"
FEAST_CLI = str(Path(sys.executable).parent / "feast")


def run_feast(repo: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``feast`` CLI in ``repo``; fail with its output if it fails."""
    done = subprocess.run(
        [FEAST_CLI, *args], cwd=repo, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(f"feast {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def make_repo(dest: Path, scenario: Scenario, online_store: dict[str, Any] | None = None,
              log_root: str | None = None) -> FeatureStore:
    """Copy the example repo to ``dest``, write its batch sources, apply, materialize.

    ``online_store`` replaces the repo's ``online_store`` block (the documented
    one-block switch, e.g. to PinotOnlineStore); ``None`` keeps the embedded default.
    ``log_root`` (e.g. ``s3://bucket/prefix``) holds the action logs instead of the repo's ``data/``.
    """
    shutil.copytree(REPO_SOURCE, dest, ignore=shutil.ignore_patterns("data", "__pycache__"))
    if log_root is not None:
        features = dest / "features.py"
        declared = features.read_text()
        features.write_text(declared.replace('path="data/member_actions', f'path="{log_root}/member_actions'))
    if online_store is not None:
        config_path = dest / "feature_store.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["online_store"] = online_store
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    write_batch_sources(dest, scenario)
    run_feast(dest, "apply")
    store = FeatureStore(repo_path=str(dest))
    store.materialize(
        datetime(2000, 1, 1, tzinfo=timezone.utc),
        datetime.fromtimestamp(scenario.end_ms / 1000 + 86400, tz=timezone.utc),
    )
    return store
