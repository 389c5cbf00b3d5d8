"""The end-to-end demo (``python -m demo``) on a small scenario: live events through Kafka and the ingester."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    assert "interest_max_sim" in out and "online vs training data (get_historical_features)" in out
    two_interests(tmp_path / "two_interests.json")


def two_interests(path: Path) -> None:
    """The two-interest member's figures make the point, and agree with the medoids they came from."""
    figures = json.loads(path.read_text())
    assert figures["online_vs_training"] <= 1e-6
    first, second, applied = figures["rows"]
    importances = np.array([first[f"interest_importance_{i}"] for i in range(1, 6)])
    cosines = np.array(figures["medoid_cosines"])  # per medoid: cosine to the first, the second candidate
    for column, row in enumerate((first, second)):
        assert row["interest_max_sim"] == pytest.approx(cosines[:, column].max(), abs=1e-6)
        assert row["interest_weighted_sim"] == pytest.approx(
            float(importances @ cosines[:, column] / importances.sum()), abs=1e-6)
        # the plain mean is close to neither interest: well below the medoid that is close to it
        assert row["job_apply_sim_96h"] < row["interest_max_sim"] - 0.15
        assert row["job_apply_seen_count_96h"] == 0
        assert row["job_apply_seen_age_ms_96h"] == -1
    # two distinct interests: a medoid near each candidate that is far from the other
    assert cosines[:, 0].max() > 0.7 and cosines[cosines[:, 0].argmax(), 1] < 0.2
    assert cosines[:, 1].max() > 0.7 and cosines[cosines[:, 1].argmax(), 0] < 0.2
    # the newest of its 12 applications, 48 h / 12 before the request instant
    assert (applied["job_apply_seen_count_96h"], applied["job_apply_seen_age_ms_96h"]) == (1, 4 * 3_600_000)
