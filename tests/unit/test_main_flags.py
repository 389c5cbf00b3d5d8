"""``python -m stream_ingest`` owns the process-wide settings; the runner leaves them alone."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from stream_ingest import __main__ as cli


class _Runner:
    frozen_while_running: int | None = None

    def stop(self) -> None: ...

    def run(self) -> None:
        self.frozen_while_running = gc.get_freeze_count()


def _main(monkeypatch: pytest.MonkeyPatch, *flags: str) -> _Runner:
    runner = _Runner()
    monkeypatch.setattr(logging.getLogger("httpx"), "level", logging.NOTSET)  # main() sets it: undone after
    monkeypatch.setattr(cli, "load_config", lambda *_: None)
    monkeypatch.setattr(cli, "build_runner", lambda _config: runner)
    assert cli.main(["--config", str(Path("unused.yaml")), *flags]) == 0
    return runner


@pytest.mark.parametrize(("flags", "frozen"), [((), True), (("--gc-freeze",), True), (("--no-gc-freeze",), False)])
def test_gc_freeze_is_the_cli_s_choice_and_undone_on_return(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], frozen: bool
) -> None:
    assert gc.get_freeze_count() == 0
    runner = _main(monkeypatch, *flags)
    assert (runner.frozen_while_running or 0) > 0 if frozen else runner.frozen_while_running == 0
    assert gc.get_freeze_count() == 0


def test_importing_the_pinot_client_leaves_logger_levels_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import logging, feast_pinot.online.pinot.broker; print(logging.getLogger('httpx').level)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "0\n"
    _main(monkeypatch, "--no-gc-freeze")
    assert logging.getLogger("httpx").level == logging.WARNING
