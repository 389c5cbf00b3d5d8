"""Training rows grouped by (actor, time, request_ts): the rows of one ranking instant."""

from __future__ import annotations

import numpy as np
import pandas as pd

from feast_pinot.offline.engine import SharedRows


def test_rows_sharing_actor_time_and_request_ts_form_one_group() -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    entities = pd.DataFrame({"actor": rng.choice(["a", "b", "c"], n), "t": rng.integers(0, 4, n)})
    request_ts = entities["t"].to_numpy() - rng.integers(0, 2, n)  # two request times per instant
    shared = SharedRows.of(entities, request_ts)
    keys = list(zip(entities["actor"], entities["t"], request_ts))
    assert shared.groups == len(set(keys)) == 24
    for g in range(shared.groups):
        rows = shared.order[shared.starts[g]:shared.starts[g + 1]]
        assert sorted(rows.tolist()) == [i for i, k in enumerate(keys) if k == keys[shared.first[g]]]
        assert (shared.group[rows] == g).all()
    assert shared.first.tolist() == sorted(shared.first.tolist()), "groups numbered by first appearance"


def test_no_rows_no_groups() -> None:
    shared = SharedRows.of(pd.DataFrame({"actor": np.zeros(0, np.int64), "t": np.zeros(0, np.int64)}),
                           np.zeros(0, np.int64))
    assert shared.groups == 0 and shared.starts.tolist() == [0]
