"""Fixtures of the broker-backed ingester tests: an applied example repo, topics, runners."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from feast import FeatureStore

from demo.synthetic import Scenario
from feast_pinot.clock import now_ms
from local_cluster.polling import eventually
from stream_ingest.config import IngestConfig
from stream_ingest.runner import KafkaRunner, build_runner
from tests.ingest.support import ingest_config
from tests.integration.conftest import make_repo

HOUR = 3_600_000
JOBS = 300  # every scenario of these tests shares the jobs (and so their embeddings)


def scenario(members: int, hours: float = 2.0, per_hour: float = 5.0, first_member: int = 1) -> Scenario:
    """Synthetic actions of the last ``hours``, on the template repo's jobs."""
    return Scenario(start_ms=now_ms() - int(hours * HOUR), hours=hours - 0.05, members=members,
                    jobs=JOBS, actions_per_member_hour=per_hour)


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example repo, applied with the real CLI and materialized, once per session."""
    path = tmp_path_factory.mktemp("template") / "repo"
    make_repo(path, scenario(members=50))
    return path


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    """A private copy of the applied repo (its registry, online store and logs)."""
    return Path(shutil.copytree(template_repo, tmp_path / "repo"))


@dataclass(frozen=True)
class Topics:
    applications: str
    interactions: str
    dead_letters: str
    group: str


@pytest.fixture
def topics(topic_factory: Callable[..., str], consumer_group: str) -> Topics:
    return Topics(topic_factory("applications", 2), topic_factory("interactions", 2),
                  topic_factory("dead-letters", 1), consumer_group)


@pytest.fixture
def make_config(repo: Path, kafka_bootstrap: str, topics: Topics) -> Callable[..., IngestConfig]:
    def make(**sections: dict) -> IngestConfig:
        return ingest_config(repo, kafka_bootstrap, topics.applications, topics.interactions,
                             topics.dead_letters, topics.group, **sections)
    return make


def store_of(repo: Path) -> FeatureStore:
    return FeatureStore(repo_path=str(repo))


@dataclass
class Background:
    """A runner on a thread, and what it raised (if anything)."""

    runner: KafkaRunner
    thread: threading.Thread
    failures: list[BaseException]


def start_runner(config: IngestConfig) -> Background:
    runner = build_runner(config)
    failures: list[BaseException] = []

    def target() -> None:
        try:
            runner.run()
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    thread = threading.Thread(target=target, name="ingester", daemon=True)
    thread.start()
    eventually(lambda: bool(runner.assigned) or bool(failures), 120, "partition assignment")
    if failures:
        raise failures[0]
    return Background(runner, thread, failures)


@contextmanager
def running(config: IngestConfig) -> Iterator[KafkaRunner]:
    """An in-process runner on a thread; stopped (final checkpoint) on exit."""
    background = start_runner(config)
    try:
        yield background.runner
    finally:
        background.runner.stop()
        background.thread.join(120)
        if background.failures:  # what the runner raised explains a failure of the body (its context)
            raise background.failures[0]
    assert not background.thread.is_alive(), "the runner did not stop"
