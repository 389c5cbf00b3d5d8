"""The parity test of the embedded store, run unchanged with PinotOnlineStore as the online store.

Same replay (pushes in shuffled, late and replayed chunks under a pinned clock),
same assertions: online == offline == an independent numpy/scipy computation,
for every view (the decayed, multi-interest and seen features included). Only
the repo's ``online_store`` block differs: it points at Pinot.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.pinot import PinotEndpoints, pinot_settings
from tests.integration.test_parity import (  # noqa: F401 - collected here, against the Pinot replay
    Replay,
    parity_log_root,
    replay,
    test_edges_behave_as_documented,
    test_interest_edges_behave_as_documented,
    test_offline_matches_online_row_for_row,
    test_online_matches_independent_computation,
    test_seen_features_were_checked_on_acted_on_and_other_jobs,
)


@pytest.fixture(scope="module")
def parity_online_store(pinot_endpoints: PinotEndpoints, module_pinot_prefix: str) -> dict[str, Any]:
    return pinot_settings(pinot_endpoints, module_pinot_prefix)


def test_replay_ran_on_pinot(replay: Replay) -> None:  # noqa: F811 - the imported fixture
    assert type(replay.store._get_provider().online_store).__name__ == "PinotOnlineStore"
