"""PinotOnlineStoreConfig: strict, frozen, validated when feature_store.yaml is loaded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from feast.infra.online_stores.helpers import get_online_store_from_config
from feast.repo_config import FeastConfigError, load_repo_config
from pydantic import SecretStr, ValidationError

from feast_pinot.online.backend import TableSpec
from feast_pinot.online.pinot import STORE_TYPE, PinotOnlineStore, PinotOnlineStoreConfig
from feast_pinot.online.pinot.layout import Layout

MINIMAL: dict[str, Any] = {"controller_url": "http://localhost:9000", "broker_url": "https://pinot.example.com:8443/",
           "kafka_bootstrap_servers": "localhost:9092"}


def test_minimal_config_and_defaults() -> None:
    config = PinotOnlineStoreConfig(**MINIMAL)
    assert config.broker_url == "https://pinot.example.com:8443"  # trailing slash dropped
    assert (config.stream_servers, config.auth, config.retention_hours, config.query_timeout_ms) == (
        "localhost:9092", None, None, 1000)
    assert not config.wait_for_ingestion
    with pytest.raises(ValidationError, match="frozen"):
        config.retention_hours = 1  # type: ignore[misc]


@pytest.mark.parametrize(("change", "message"), [
    ({"controller_url": "localhost:9000"}, "must be an http\\(s\\) URL such as http://localhost:9000"),
    ({"name_prefix": "1abc"}, "must start with a letter"),
    ({"name_prefix": "a__b"}, "single '_'"),
    ({"name_prefix": "a-b"}, "must start with a letter"),
    ({"username": "u"}, "username and password must be given together"),
    ({"query_timeout_ms": 0}, "greater than 0"),
    ({"wait_for_ingestion": "yes"}, "valid boolean"),
    ({"brokers": "x"}, "Extra inputs are not permitted"),
])
def test_invalid_settings_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PinotOnlineStoreConfig(**{**MINIMAL, **change})


def test_credentials_are_secret() -> None:
    config = PinotOnlineStoreConfig(**MINIMAL, username="reader", password=SecretStr("s3cret"))
    assert config.auth == ("reader", "s3cret")
    assert "s3cret" not in repr(config)


def _load(tmp_path: Path, online_store: dict[str, Any]) -> Any:
    (tmp_path / "feature_store.yaml").write_text(yaml.safe_dump({
        "project": "jobs", "provider": "local", "registry": "data/registry.db",
        "online_store": {"type": STORE_TYPE, **online_store}, "entity_key_serialization_version": 3}))
    return load_repo_config(tmp_path, tmp_path / "feature_store.yaml")


def test_feast_loads_and_validates_the_yaml(tmp_path: Path) -> None:
    config = _load(tmp_path, {**MINIMAL, "name_prefix": "prod_", "retention_hours": 48})
    assert isinstance(config.online_store, PinotOnlineStoreConfig)
    assert config.online_store.retention_hours == 48
    assert type(PinotOnlineStore().backend(config)).__name__ == "PinotBackend"  # built lazily, no network
    # Feast finds the store class in the module the config class names: the package.
    assert type(get_online_store_from_config(config.online_store)) is PinotOnlineStore
    with pytest.raises(FeastConfigError, match="must be an http\\(s\\) URL"):
        _load(tmp_path, {**MINIMAL, "broker_url": "pinot:8099"})


def test_names_carry_the_prefix() -> None:
    layout = Layout(PinotOnlineStoreConfig(**MINIMAL, name_prefix="prod_"))
    assert layout.table("jobs_member_actions") == "prod_jobs_member_actions"


@pytest.mark.parametrize(("override", "log_retention_ms", "hours"), [
    (None, 96 * 3_600_000, "192"),  # twice the log's: what a read pinned within the retention reaches
    (None, 90 * 60_000, "3"),  # rounded up: Pinot never drops an action such a read still needs
    (48, 96 * 3_600_000, "48"),
])
def test_action_table_retention_follows_the_log_unless_overridden(
    override: int | None, log_retention_ms: int, hours: str
) -> None:
    layout = Layout(PinotOnlineStoreConfig(**MINIMAL, retention_hours=override))
    spec = TableSpec("log", "actions", retention_ms=log_retention_ms)
    segments = layout.table_config(spec)["segmentsConfig"]
    assert (segments["retentionTimeUnit"], segments["retentionTimeValue"]) == ("HOURS", hours)


def test_kafka_credentials_are_masked_and_redacted() -> None:
    jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="pinot" password="p1n0t!";'
    config = PinotOnlineStoreConfig(
        **MINIMAL, username="feast", password=SecretStr("http-pw"),
        kafka_producer_config={"security.protocol": "SASL_SSL", "sasl.password": "kafka-pw"},
        stream_properties={"sasl.jaas.config": jaas, "security.protocol": "SASL_SSL"})
    shown = repr(config) + str(config)
    assert [s for s in ("http-pw", "kafka-pw", "p1n0t!", jaas) if s in shown] == []
    assert "SASL_SSL" in shown  # the rest stays readable
    assert config.secrets == {"http-pw", "kafka-pw", jaas, "p1n0t!"}
    assert config.redact(f"refused {{'sasl.jaas.config': '{jaas}'}} for kafka-pw") == (
        "refused {'sasl.jaas.config': '**********'} for **********")


@pytest.mark.parametrize(("change", "where"), [
    ({"password": "${PINOT_PW}"}, "password"),
    ({"kafka_producer_config": {"sasl.password": "${KAFKA_PW}"}}, "kafka_producer_config['sasl.password']"),
    ({"stream_properties": {"sasl.jaas.config": 'x password="${JAAS_PW}";'}}, "stream_properties['sasl.jaas.config']"),
])
def test_an_unset_environment_variable_is_named(change: dict[str, Any], where: str) -> None:
    settings = {**MINIMAL, "username": "u", "password": "p", **change}
    with pytest.raises(ValidationError, match=re.escape(f"online_store.{where}: environment variable ")):
        PinotOnlineStoreConfig(**settings)
