"""``feast ui`` (the ``[ui]`` extra: Feast's gRPC registry server) lists a repo's action logs, histories and views."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.conftest import FEAST_CLI
from tests.integration.mini_repo import HOUR, jobs_frame, make_mini_repo

NOW = int(time.time() * 1000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def _wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    """Until the UI answers; its exit (with its output) fails at once."""
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"feast ui exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)


def test_feast_ui_serves_the_repo(tmp_path: Path) -> None:
    make_mini_repo(tmp_path / "repo", jobs_frame({3: [1.0, 2.0]}, NOW - HOUR))
    port = _free_port()
    proc = subprocess.Popen([FEAST_CLI, "ui", "-h", "127.0.0.1", "-p", str(port)], cwd=tmp_path / "repo",
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_up(base + "/projects-list.json", proc)
        views = _get(base + "/api/v1/feature_views?project=mini")["featureViews"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    by_type: dict[str, list[str]] = {}
    for view in views:
        by_type.setdefault(view["type"], []).append(view["spec"]["name"])
    assert {kind: sorted(names) for kind, names in by_type.items()} == {
        "featureView": ["acts", "acts_hist", "job_attributes", "light", "light_hist"],
        "onDemandFeatureView": ["acts_rank", "acts_win", "light_win"],
    }
