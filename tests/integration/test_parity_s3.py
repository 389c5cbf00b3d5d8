"""The parity suite run unchanged with the action logs on S3 (the session's S3Proxy).

Same replay, same assertions (online == offline == an independent
computation); only the logs' paths differ: ``s3://`` roots, so every push
writes its parts to the S3 server and ``get_historical_features`` reads them
back through pyarrow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow.fs as pafs
import pytest

from tests.fixtures.s3 import S3Server
from tests.integration.test_parity import (  # noqa: F401 - collected here, against the replay on S3
    Replay,
    parity_online_store,
    replay,
    test_edges_behave_as_documented,
    test_interest_edges_behave_as_documented,
    test_offline_matches_online_row_for_row,
    test_online_matches_independent_computation,
    test_seen_features_were_checked_on_acted_on_and_other_jobs,
)


@pytest.fixture(scope="module")
def parity_log_root(s3_server: S3Server) -> Iterator[str]:
    env = pytest.MonkeyPatch()  # the module's clients (training reads in the tests too) talk to the test server
    for key, value in s3_server.client_env().items():
        env.setenv(key, value)
    try:
        yield f"s3://{s3_server.bucket}/parity-{uuid.uuid4().hex[:8]}"
    finally:
        env.undo()


def test_the_logs_are_on_s3(replay: Replay, parity_log_root: str, s3_server: S3Server) -> None:  # noqa: F811
    listed = s3_server.filesystem().get_file_info(
        pafs.FileSelector(f"{parity_log_root.removeprefix('s3://')}/member_actions", recursive=True))
    assert len([f for f in listed if f.path.endswith(".parquet")]) > 100  # a part per push and date
