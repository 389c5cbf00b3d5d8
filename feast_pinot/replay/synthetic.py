"""The demo's synthetic jobs data as replay input: the sanity check with a planted effect.

Each member's interest drifts from one topic to another over the scenario
(``demo/synthetic.py``): what they apply to or save follows the drift, what
they dismiss comes from other topics. Whether an action on a job is an apply
or save (1) or a dismiss (0) is therefore predictable from the member's recent
actions, and better from fresher ones. Views are history only.
"""

from __future__ import annotations

import pandas as pd

from feast_pinot.replay.data import ReplayData

__all__ = ["POSITIVE", "synthetic_data"]

POSITIVE = ("job-apply", "job-save")
_LABELS = {"job-apply": 1.0, "job-save": 1.0, "job-dismiss": 0.0}
_START_MS = 1_767_571_200_000  # 2026-01-05T00:00Z


def synthetic_data(members: int = 200, hours: float = 240.0, seed: int = 7) -> ReplayData:
    """``members`` members over ``hours`` hours of the demo's generator (seeded)."""
    from demo.synthetic import Scenario, actions, job_embeddings  # the demo ships with the project

    scenario = Scenario(start_ms=_START_MS, hours=hours, members=members, jobs=400, seed=seed)
    raw = actions(scenario, with_embeddings=False)
    frame = pd.DataFrame({
        "actor": [str(a["actor"]) for a in raw],
        "object": [a["object"] for a in raw],
        "ts_ms": pd.array([a["timestamp"] for a in raw], dtype="int64"),
        "verb": [a["verb"] for a in raw],
    })
    frame["label"] = frame["verb"].map(_LABELS)
    _, emb = job_embeddings(scenario)
    return ReplayData.of("synthetic", frame, {f"job:{j}": emb[j] for j in range(scenario.jobs)})
