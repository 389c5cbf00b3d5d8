"""The end-to-end demo (``python -m demo``) on a small scenario: live events through Kafka and the ingester."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.__main__ import main


def test_demo_runs_end_to_end(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)  # the session's broker, not a second one
    assert main(["--workdir", str(tmp_path), "--members", "20"]) == 0
    out = capsys.readouterr().out
    assert "raw event produced -> visible in get_online_features: p50" in out
    assert "ingester stopped with exit code 0" in out
    assert "dead-lettered 1 " in out
    assert "the malformed event, step 'parse'" in out
    assert (tmp_path / "training_set.parquet").exists()
