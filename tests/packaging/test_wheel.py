"""The wheel a team installs: the product only, and working in a clean venv of its own.

``pip wheel`` builds it; a fresh ``python -m venv`` installs it with its
dependencies from PyPI (pip's cache keeps that quick); that venv then applies
and reads a copy of the example repo with the real ``feast`` CLI and API, and
runs the product's commands. Nothing of the repository is on its path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the folders of the repository the wheel ships, and the names they are installed under
SHIPPED = {"feast_pinot": "feast_pinot", "stream_ingest": "stream_ingest", "local_cluster": "feast_pinot_local_cluster"}


def _run(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # from a clean copy: setuptools' build/ folder in the checkout could carry files since deleted
    source = tmp_path_factory.mktemp("source") / "feast-pinot"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".cache", "build", "dist", "*.egg-info", "__pycache__", "demo-output", "data"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)], source)
    (found,) = out.glob("feast_pinot-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", str(root)], ROOT)
    _run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], root)
    return root / "bin"


def test_the_wheel_holds_the_product_only(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"feast_pinot", "stream_ingest", "feast_pinot_local_cluster"}
    on_disk = {f"{SHIPPED[p.relative_to(ROOT).parts[0]]}/{'/'.join(p.relative_to(ROOT).parts[1:])}"
               for folder in SHIPPED for pattern in ("*.py", "*.xml", "*.c", "py.typed")
               for p in (ROOT / folder).rglob(pattern) if "__pycache__" not in p.parts}
    assert on_disk - names == set()  # pyproject's package list misses no folder
    assert {"feast_pinot_local_cluster/maven/kafka.xml", "feast_pinot_local_cluster/native/loopback_bind.c"} <= names


def test_the_installed_wheel_applies_and_reads_the_example_repo(venv: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    _run([str(venv / "feast"), "apply"], repo)
    shutil.copy(Path(__file__).with_name("smoke.py"), tmp_path / "smoke.py")
    done = _run([str(venv / "python"), str(tmp_path / "smoke.py"), str(repo)], tmp_path)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"pushed": 3, "count_1h": 2, "count_24h": 3}


def test_the_installed_commands_run_and_nothing_collides(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "python")
    assert "--config" in _run([python, "-m", "stream_ingest", "--help"], tmp_path).stdout
    assert "--fetch-only" in _run([str(venv / "feast-pinot-local-cluster"), "--help"], tmp_path).stdout
    for name in ("local_cluster", "demo", "bench", "tests"):
        probe = subprocess.run([python, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True)
        assert probe.returncode == 1 and f"No module named '{name}'" in probe.stderr


def test_the_installed_local_cluster_fetches_with_its_packaged_poms(venv: Path, tmp_path: Path) -> None:
    if shutil.which("mvn") is None:
        pytest.fail("mvn is not on PATH: run the suite through scripts/test.sh (it sources scripts/_jvm.sh)")
    cache = ROOT / ".cache" / "local-cluster"  # the suite's own cache: the jars are there already
    command = [str(venv / "python"), "-m", "feast_pinot_local_cluster", "--fetch-only", "--cache", str(cache)]
    done = _run(command, tmp_path)
    assert sorted(line.split()[0] for line in done.stdout.splitlines()) == ["kafka", "pinot"], done.stdout

