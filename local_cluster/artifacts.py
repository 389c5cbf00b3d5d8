"""Bring Pinot's and Kafka's jars from Maven Central, once.

Each runtime is a small pom in ``maven/``; ``mvn dependency:copy-dependencies``
copies its runtime classpath into ``<cache>/<name>-<version>/lib``. Maven keeps
its own copy in ``~/.m2``, and a ``complete`` marker written last makes the next
run skip Maven entirely, so an interrupted fetch is simply redone.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import FetchError

__all__ = ["Runtime", "fetch"]

_MARKER = "complete"
_FETCH_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Runtime:
    """A fetched classpath: where its jars are and what the fetch cost."""

    name: str
    version: str
    lib: Path
    downloaded: bool
    fetch_s: float
    size_mb: float

    @property
    def classpath(self) -> str:
        return str(self.lib / "*")


def fetch(name: str, version: str, cache: Path) -> Runtime:
    """The jars of ``maven/<name>.xml`` at ``version``, fetched into ``cache`` unless already there."""
    home = (cache / f"{name}-{version}").resolve()  # Maven resolves relative paths against the pom
    lib = home / "lib"
    started = time.monotonic()
    downloaded = not (home / _MARKER).exists()
    if downloaded:
        _copy_dependencies(name, version, home)
    return Runtime(name, version, lib, downloaded, time.monotonic() - started, _size_mb(lib))


def _copy_dependencies(name: str, version: str, home: Path) -> None:
    if shutil.which("mvn") is None:
        raise FetchError("Maven (mvn) is not on PATH: install it (Debian: apt-get install maven)")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    template = resources.files(__package__) / "maven"
    (home / "pom.xml").write_text((template / f"{name}.xml").read_text().replace("@VERSION@", version))
    (home / "settings.xml").write_text((template / "settings.xml").read_text())
    command = ["mvn", "-B", "-q", "-s", str(home / "settings.xml"), "-f", str(home / "pom.xml"),
               "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={home / 'lib'}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S, check=False)
    if done.returncode != 0:
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line][:8]
        raise FetchError(f"fetching {name} {version} with Maven failed:\n" + "\n".join(errors))
    (home / _MARKER).write_text("\n".join(sorted(p.name for p in (home / "lib").iterdir())) + "\n")


def _size_mb(lib: Path) -> float:
    return sum(p.stat().st_size for p in lib.iterdir()) / 1e6
