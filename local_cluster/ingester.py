"""``python -m stream_ingest`` as a subprocess, for the demo, the benchmarks and the tests.

    ingester = IngesterProcess.start(repo / "ingest.yaml", bootstrap, log_path)
    ingester.wait_assigned()                 # joined its consumer group
    ...
    assert ingester.stop() == 0              # SIGTERM: final checkpoint, exit 0
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .errors import LocalClusterError
from .polling import eventually

__all__ = ["IngesterProcess"]


class IngesterProcess:
    """``python -m stream_ingest`` in a subprocess, its stderr in a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self._signalled = False  # a second SIGTERM during shutdown would kill it

    @classmethod
    def start(cls, config: Path, bootstrap: str | None, log_path: Path) -> IngesterProcess:
        args = [sys.executable, "-m", "stream_ingest", "--config", str(config)]
        if bootstrap:
            args += ["--bootstrap-servers", bootstrap]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        return cls(process, log_path)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout_s: float = 120.0, count: int = 1) -> None:
        """Wait until the log holds ``needle`` ``count`` times; fail at once if the process died."""

        def logged() -> bool:
            if self.process.poll() is not None and self.log_text().count(needle) < count:
                raise LocalClusterError(f"ingester exited with {self.process.returncode}:\n{self.log_text()}")
            return self.log_text().count(needle) >= count

        eventually(logged, timeout_s, f"{needle!r} in the ingester log {self.log_path}")

    def final_status(self) -> str:
        """The status line the process logged when it stopped (its counters), or a note that it did not."""
        lines = [line for line in self.log_text().splitlines() if "stopped: " in line]
        return lines[-1].split("stopped: ", 1)[1] if lines else "no final status line in the log"

    def wait_assigned(self, timeout_s: float = 120.0) -> None:
        """Wait until the process owns partitions (it has joined its consumer group)."""
        self.wait_for_log("stream_ingest INFO assigned", timeout_s)

    def request_stop(self) -> None:
        """SIGTERM (once) without waiting, to stop several processes at once."""
        if not self._signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self._signalled = True

    def stop(self, timeout_s: float = 120.0) -> int:
        """SIGTERM (flush, commit) and wait; the exit code (SIGKILL after ``timeout_s``)."""
        self.request_stop()
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no flush, no commit (what a crash looks like)."""
        self.process.kill()
        self.process.wait()
