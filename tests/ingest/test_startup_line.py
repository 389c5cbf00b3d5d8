"""The ingester's first line names what it reads and where it writes: topics, group, log, stores, dead letters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from stream_ingest.config import IngestConfig
from tests.ingest.conftest import Topics, running


def test_the_first_line_names_topics_group_log_and_stores(
    make_config: Callable[..., IngestConfig], topics: Topics, repo: Path, kafka_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config()
    with caplog.at_level(logging.INFO, logger="stream_ingest"), running(config):
        pass
    first = next(r.getMessage() for r in caplog.records if r.name == "stream_ingest")
    assert first == (
        f"ingesting {topics.applications}, {topics.interactions} from {kafka_bootstrap} as group {topics.group} "
        "into action log 'member_actions': online store feast_pinot.online.embedded.EmbeddedOnlineStore "
        f"(data/online_store.db), offline log {repo / 'data' / 'member_actions'}, dead letters to "
        f"{topics.dead_letters}")
