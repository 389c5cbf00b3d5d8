"""The parity command's test, run unchanged with PinotOnlineStore (real Pinot and Kafka) as the online store."""

from __future__ import annotations

from typing import Any

import pytest
from feast import FeatureStore

from tests.fixtures.pinot import PinotEndpoints, pinot_settings
from tests.integration.test_parity_command import (  # noqa: F401 - collected here, against Pinot
    repo,
    test_parity_passes_then_catches_planted_mismatches,
)


@pytest.fixture(scope="module")
def command_online_store(pinot_endpoints: PinotEndpoints, module_pinot_prefix: str) -> dict[str, Any]:
    # Generous read timeouts: the check compares values, and a loaded machine's slow answer is no mismatch.
    return pinot_settings(pinot_endpoints, module_pinot_prefix, query_timeout_ms=10_000, http_timeout_s=30.0)


def test_the_repo_runs_on_pinot(repo) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 - the imported fixture
    store = FeatureStore(repo_path=str(repo))
    assert type(store._get_provider().online_store).__name__ == "PinotOnlineStore"
