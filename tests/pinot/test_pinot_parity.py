"""The parity test of the embedded store, run unchanged with PinotOnlineStore as the online store.

Same replay (pushes in shuffled, late and replayed chunks under a pinned clock),
same assertions: online == offline == an independent numpy computation. Only
the repo differs: its feature_store.yaml points at Pinot.
"""

from __future__ import annotations

import pytest

import tests.integration.test_parity as parity
from tests.fixtures.pinot import PinotEndpoints, pinot_settings
from tests.integration.test_parity import (  # noqa: F401 - collected here, against the Pinot replay
    test_edges_behave_as_documented,
    test_offline_matches_online_row_for_row,
    test_online_matches_independent_computation,
)
from tests.pinot.conftest import make_pinot_repo


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, pinot_endpoints: PinotEndpoints,
           module_pinot_prefix: str) -> parity.Replay:
    settings = pinot_settings(pinot_endpoints, module_pinot_prefix)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parity, "make_repo", lambda dest, scenario: make_pinot_repo(dest, scenario, settings))
        # The parity module's own fixture function, unchanged: only make_repo is swapped.
        replay: parity.Replay = parity.replay.__wrapped__(tmp_path_factory)  # type: ignore[attr-defined]
    assert type(replay.store._get_provider().online_store).__name__ == "PinotOnlineStore"
    return replay
