"""PinotOnlineStore, the ingester and Pinot's own consumer on a secured cluster, for real.

The session's secured cluster (``secured_cluster``): Kafka with SCRAM-SHA-512
over SASL_PLAINTEXT and ACLs, Pinot with HTTP Basic auth on the controller and
the broker. Every credential comes from the environment (``${VAR}`` in the
yaml). A wrong password, a missing one, or a principal without an ACL each
fail with an error naming the system, and nothing is written; no secret shows
in a log line, an error or a ``repr``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    NewTopic,  # type: ignore[attr-defined]  # not in its __all__
)
from feast import FeatureStore
from feast.repo_config import FeastConfigError

from demo.synthetic import Scenario, actions, raw_of
from feast_pinot import push_actions
from feast_pinot.clock import now_ms
from feast_pinot.kafka_produce import produce_all
from feast_pinot.online.backend import LatestRow, TableSpec
from feast_pinot.online.pinot import PinotOnlineStoreConfig
from feast_pinot.online.pinot.backend import PinotBackend
from feast_pinot.online.pinot.errors import PinotAuthError, PinotSchemaError
from local_cluster.cluster import ClusterEndpoints
from local_cluster.polling import eventually
from stream_ingest.config import load_config
from stream_ingest.errors import BrokerUnavailableError, ConfigError
from tests.ingest.conftest import Topics, running, start_runner
from tests.ingest.support import ingest_config
from tests.ingest.test_kafka_roundtrip import check_online
from tests.integration.conftest import make_repo

HOUR = 3_600_000
PROFILE = TableSpec("s_profile", "latest", columns=(("industry", "String"),))
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule required"
# What a team writes: every credential from the environment.
STORE_BLOCK: dict[str, Any] = {
    "username": "feast", "password": "${FEAST_PINOT_PASSWORD}",
    "kafka_producer_config": {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
                              "sasl.username": "feast", "sasl.password": "${FEAST_KAFKA_PASSWORD}"},
    "stream_properties": {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                          "sasl.jaas.config": f'{SCRAM} username="pinot" password="${{PINOT_KAFKA_PASSWORD}}";'},
}


@pytest.fixture
def environment(secured_cluster: ClusterEndpoints, monkeypatch: pytest.MonkeyPatch) -> ClusterEndpoints:
    credentials = secured_cluster.credentials
    assert credentials is not None
    monkeypatch.setenv("FEAST_PINOT_PASSWORD", credentials.pinot["feast"])
    monkeypatch.setenv("FEAST_KAFKA_PASSWORD", credentials.kafka["feast"])
    monkeypatch.setenv("PINOT_KAFKA_PASSWORD", credentials.kafka["pinot"])
    monkeypatch.setenv("INGEST_KAFKA_PASSWORD", credentials.kafka["ingest"])
    return secured_cluster


@pytest.fixture
def prefix() -> str:
    return f"s{os.urandom(4).hex()}_"


def _settings(cluster: ClusterEndpoints, prefix: str, **overrides: Any) -> dict[str, Any]:
    """The store block as Feast has it once ``${VAR}`` is expanded (``os.path.expandvars``)."""
    raw = yaml.safe_dump({"type": "feast_pinot.online.pinot.PinotOnlineStore",
                          "controller_url": cluster.controller_url, "broker_url": cluster.broker_url,
                          "kafka_bootstrap_servers": cluster.kafka_bootstrap, "name_prefix": prefix,
                          "wait_for_ingestion": True, "ingestion_timeout_s": 30.0, **STORE_BLOCK, **overrides})
    loaded: dict[str, Any] = yaml.safe_load(os.path.expandvars(raw))
    return loaded


def _backend(cluster: ClusterEndpoints, prefix: str, **overrides: Any) -> PinotBackend:
    return PinotBackend(PinotOnlineStoreConfig(**_settings(cluster, prefix, **overrides)))


def _messages(cluster: ClusterEndpoints, topic: str) -> int:
    settings = {**cluster.kafka.client_settings("admin"), "group.id": "count"}
    consumer = Consumer(settings)
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def _topics(cluster: ClusterEndpoints, prefix: str) -> Topics:
    """Raw and dead-letter topics for the ingester, created by the admin."""
    topics = Topics(f"{prefix}applications", f"{prefix}interactions", f"{prefix}dead-letters", f"{prefix}group")
    admin = AdminClient(cluster.kafka.client_settings("admin"))
    names = [topics.applications, topics.interactions, topics.dead_letters]
    for future in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
        future.result(30)
    return topics


def _produce_raw(cluster: ClusterEndpoints, topics: Topics, items: list[dict[str, Any]]) -> None:
    producer = Producer(cluster.kafka.client_settings("admin"))
    for kind, key, value in map(raw_of, items):
        topic = topics.applications if kind == "applications" else topics.interactions
        assert produce_all(producer, topic, [(key, value)], 30) == (0, [])


def _secrets(cluster: ClusterEndpoints) -> list[str]:
    assert cluster.credentials is not None
    return [*cluster.credentials.kafka.values(), *cluster.credentials.pinot.values()]


@pytest.fixture
def no_secret_shown(environment: ClusterEndpoints, caplog: pytest.LogCaptureFixture,
                    capfd: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """Collects the texts a test saw (errors, reprs); afterwards no secret may be in them or in any log."""
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        yield seen
    out, err = capfd.readouterr()
    shown = "\n".join([caplog.text, out, err, *seen])
    assert [s for s in _secrets(environment) if s in shown] == []


def test_store_ingester_and_pinot_authenticate_from_the_environment(
    environment: ClusterEndpoints, prefix: str, tmp_path: Path, no_secret_shown: list[str]
) -> None:
    scenario = Scenario(start_ms=now_ms() - 30 * HOUR, hours=29, members=4, jobs=20, actions_per_member_hour=0.3)
    repo = tmp_path / "repo"
    store = make_repo(repo, scenario, _settings(environment, prefix))  # apply + materialize, CLI and SDK
    config = store.config.online_store
    no_secret_shown.append(repr(config))
    pushed = push_actions(store, "member_actions", actions(scenario)[:20])
    assert pushed == 20
    # The ingester's own consumer logs in as "ingest"; its online sink writes as the store ("feast").
    kafka_login = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
                   "sasl.username": "ingest", "sasl.password": "${INGEST_KAFKA_PASSWORD}"}
    topics = _topics(environment, prefix)
    items = actions(scenario)[20:60]
    _produce_raw(environment, topics, items)
    config_path = _ingest_yaml(tmp_path, repo, environment, topics, kafka_login)
    with running(load_config(config_path)) as runner:
        eventually(lambda: runner.stats.snapshot().events_in == len(items), 90, "all events handled")
    assert (runner.stats.snapshot().stored, runner.stats.snapshot().dead_lettered) == (len(items), 0)
    check_online(repo, actions(scenario)[:60], scenario)
    no_secret_shown.append(repr(load_config(config_path)))


def _ingest_yaml(tmp_path: Path, repo: Path, cluster: ClusterEndpoints, topics: Topics,
                 properties: dict[str, str]) -> Path:
    config = ingest_config(repo, cluster.kafka_bootstrap, topics.applications, topics.interactions,
                           topics.dead_letters, topics.group)
    raw = config.model_dump(mode="json")
    raw["kafka"]["properties"] = properties
    path = tmp_path / "ingest.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("change", "system"), [
    ({"password": "wrong"}, r"the Pinot controller refused user 'feast' \(HTTP 403\) on GET /version"),
    ({"username": "reader"}, r"the Pinot controller refused user 'reader' \(HTTP 403\) on GET /version"),
    ({"kafka_producer_config": {**STORE_BLOCK["kafka_producer_config"], "sasl.password": "wrong"}},
     r"Kafka at .* refused user 'feast' create Kafka topic '.*_s_profile': .*SASL authentication"),
    ({"kafka_producer_config": {**STORE_BLOCK["kafka_producer_config"], "sasl.username": "nobody",
                                "sasl.password": "${NOBODY_KAFKA_PASSWORD}"}},
     r"Kafka at .* refused user 'nobody' create Kafka topic '.*_s_profile'.*it needs CREATE, DESCRIBE and DELETE"),
    ({"stream_properties": {**STORE_BLOCK["stream_properties"],
                            "sasl.jaas.config": f'{SCRAM} username="pinot" password="wrong-one";'}},
     r"POST /tables answered 500"),
])
def test_a_refused_login_or_permission_at_apply_names_the_system_and_creates_nothing(
    environment: ClusterEndpoints, prefix: str, change: dict[str, Any], system: str,
    no_secret_shown: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert environment.credentials is not None
    monkeypatch.setenv("NOBODY_KAFKA_PASSWORD", environment.credentials.kafka["nobody"])
    backend = _backend(environment, prefix, ingestion_timeout_s=5.0, write_timeout_s=10.0, **change)
    with pytest.raises((PinotAuthError, PinotSchemaError), match=system) as raised:
        backend.create_tables([PROFILE])
    no_secret_shown.append(str(raised.value))
    listed = AdminClient(environment.kafka.client_settings("admin")).list_topics(timeout=10).topics
    assert [t for t in listed if t.startswith(prefix)] == []


@pytest.mark.parametrize(("change", "system"), [
    ({"password": "wrong"},
     r"the Pinot broker refused user 'feast' \((HTTP 40[13]|Pinot error 180)\) on a query of table"),
    ({"kafka_producer_config": {**STORE_BLOCK["kafka_producer_config"], "sasl.password": "wrong"}},
     r"Kafka at .* refused user 'feast' writing to topic '.*_s_profile': .*SASL authentication"),
    ({"kafka_producer_config": {**STORE_BLOCK["kafka_producer_config"], "sasl.username": "nobody",
                                "sasl.password": "${NOBODY_KAFKA_PASSWORD}"}},
     r"Kafka at .* refused user 'nobody' writing to topic '.*_s_profile' \(it needs a WRITE and DESCRIBE ACL\)"),
])
def test_a_refused_write_or_read_names_the_system_and_writes_nothing(
    environment: ClusterEndpoints, prefix: str, change: dict[str, Any], system: str,
    no_secret_shown: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert environment.credentials is not None
    monkeypatch.setenv("NOBODY_KAFKA_PASSWORD", environment.credentials.kafka["nobody"])
    _backend(environment, prefix).create_tables([PROFILE])
    table = f"{prefix}{PROFILE.name}"
    refused = _backend(environment, prefix, write_timeout_s=20.0, **change)
    row = LatestRow("k", 1, {"industry": "x"})
    with pytest.raises(PinotAuthError, match=system) as raised:
        if "password" in change:
            refused.read_latest(PROFILE.name, ["k"])
        else:
            refused.write_latest(PROFILE.name, [row])
    no_secret_shown.append(str(raised.value))
    refused.close()
    assert _messages(environment, table) == 0


def test_a_missing_credential_is_named_when_the_yaml_is_loaded(
    environment: ClusterEndpoints, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEAST_KAFKA_PASSWORD")
    (tmp_path / "feature_store.yaml").write_text(yaml.safe_dump({
        "project": "sec", "provider": "local", "registry": "registry.db", "entity_key_serialization_version": 3,
        "online_store": {"type": "feast_pinot.online.pinot.PinotOnlineStore",
                         "controller_url": environment.controller_url, "broker_url": environment.broker_url,
                         "kafka_bootstrap_servers": environment.kafka_bootstrap, **STORE_BLOCK}}))
    with pytest.raises(FeastConfigError,
                       match=r"kafka_producer_config\['sasl.password'\]: environment variable FEAST_KAFKA_PASSWORD "
                             "is not set"):
        FeatureStore(repo_path=str(tmp_path))
    monkeypatch.delenv("INGEST_KAFKA_PASSWORD")
    (tmp_path / "ingest.yaml").write_text("kafka:\n  properties:\n    sasl.password: ${INGEST_KAFKA_PASSWORD}\n")
    with pytest.raises(ConfigError, match="environment variable INGEST_KAFKA_PASSWORD is not set"):
        load_config(tmp_path / "ingest.yaml")


def test_the_ingester_refused_by_kafka_stops_naming_kafka(
    environment: ClusterEndpoints, prefix: str, tmp_path: Path
) -> None:
    scenario = Scenario(start_ms=now_ms() - 5 * HOUR, hours=4, members=2, jobs=5, actions_per_member_hour=0.5)
    repo = tmp_path / "repo"
    make_repo(repo, scenario, _settings(environment, prefix))
    topics = _topics(environment, prefix)
    _produce_raw(environment, topics, actions(scenario)[:1])
    login = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
             "sasl.username": "ingest", "sasl.password": "wrong"}
    with pytest.raises(BrokerUnavailableError, match=r"Kafka at .* refused the ingester \(user 'ingest'\): "
                       r".*SASL authentication"):
        start_runner(load_config(_ingest_yaml(tmp_path, repo, environment, topics, login)))
