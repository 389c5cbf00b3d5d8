"""One JVM of the local cluster: started in its own process group, stopped SIGTERM then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .errors import StartError

__all__ = ["JavaProcess", "java_binary", "wait_until"]

_STOP_DEADLINE_S = 20.0


def java_binary() -> str:
    """``$JAVA_HOME/bin/java`` when set, else ``java`` from PATH."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


class JavaProcess:
    """A running JVM whose output goes to ``log``."""

    def __init__(self, name: str, args: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            self._popen = subprocess.Popen([java_binary(), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                           start_new_session=True)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def peak_rss_mb(self) -> float | None:
        """The JVM's peak resident memory so far (``VmHWM``), while it runs."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmHWM"].split()[0]) / 1024 if "VmHWM" in fields else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def fail(self, why: str) -> StartError:
        return StartError(f"{self.name} {why}; last lines of {self.log}:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the process group; SIGKILL what is left after the deadline."""
        if self._popen.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._popen.wait(_STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._popen.wait(_STOP_DEADLINE_S)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # exited between the poll and the signal
            os.killpg(self._popen.pid, sig)


def wait_until(process: JavaProcess, ready: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``ready`` until it holds; fail early if the JVM exits, late if the deadline passes."""
    end = time.monotonic() + deadline_s
    while not ready():
        if not process.alive():
            raise process.fail(f"exited (code {process.returncode}) before {what}")
        if time.monotonic() > end:
            raise process.fail(f"not {what} within {deadline_s:.0f} s")
        time.sleep(0.25)
