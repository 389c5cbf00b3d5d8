"""The settings of PinotOnlineStore: the ``online_store`` block of ``feature_store.yaml``.

Every module of the package reads its options from here; this module imports
none of them, so the store, the backend and the clients never import each
other in a circle.
"""

import re
from typing import Any, Literal

from feast.repo_config import FeastConfigBaseModel
from pydantic import ConfigDict, Field, SecretStr, StrictBool, StrictStr, field_validator, model_validator

from feast_pinot.credentials import MASK, is_secret_key, masked

__all__ = ["STORE_TYPE", "PinotOnlineStoreConfig"]

STORE_TYPE: Literal["feast_pinot.online.pinot.PinotOnlineStore"] = "feast_pinot.online.pinot.PinotOnlineStore"
_URL = re.compile(r"https?://[^\s/]+(/[^\s]*)?")
_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9_]*)?")
_JAAS_PASSWORD = re.compile(r'password\s*=\s*"([^"]*)"')
# What Feast's ``os.path.expandvars`` leaves of a variable that is not set.
_UNEXPANDED = re.compile(r"\$\{(\w+)\}")


class PinotOnlineStoreConfig(FeastConfigBaseModel):
    """Where Pinot and Kafka are, how tables are named, and how long to wait.

    Frozen and strict: an unknown key, a malformed URL or a half-given credential
    fails ``feast apply`` when the yaml is loaded, not at the first read.
    """

    # Feast imports the store class (this name without "Config") from the config's
    # module: name the package, which exports both, so this module needs no store.
    __module__ = "feast_pinot.online.pinot"

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=True)

    type: Literal["feast_pinot.online.pinot.PinotOnlineStore"] = STORE_TYPE

    controller_url: StrictStr
    """Pinot controller, e.g. ``http://localhost:9000``: schemas and tables (``feast apply``/``teardown``)."""

    broker_url: StrictStr
    """Pinot broker, e.g. ``http://localhost:8099``: every online read. Serving needs only this and Kafka."""

    kafka_bootstrap_servers: StrictStr = Field(min_length=1)
    """Kafka for the write path (materialize, push, the ingester's online sink)."""

    stream_bootstrap_servers: StrictStr | None = None
    """Kafka as Pinot's servers reach it (``stream.kafka.broker.list``); default: ``kafka_bootstrap_servers``."""

    name_prefix: StrictStr = ""
    """Prepended to every table, schema and topic name (``{prefix}{project}_{view}``)."""

    topic_partitions: int = Field(default=1, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    replication: int = Field(default=1, ge=1)
    """Pinot segment replicas per partition (``segmentsConfig.replication``)."""

    consumer_factory: StrictStr | None = None
    """Pinot's Kafka plugin; by default chosen from the controller's version: ``...kafka30.KafkaConsumerFactory``
    from Pinot 1.3, else ``...kafka20.KafkaConsumerFactory`` (every release up to 1.4 ships it, 1.5 aliases it)."""

    stream_properties: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    """Extra entries of each table's stream config. Pinot hands un-prefixed Kafka client keys to its
    consumer as they are: ``security.protocol``, ``sasl.mechanism``, ``sasl.jaas.config``."""

    kafka_producer_config: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    """Extra librdkafka settings for the producer and topic admin, e.g. ``security.protocol``,
    ``sasl.mechanisms``, ``sasl.username``, ``sasl.password``."""

    username: StrictStr | None = None
    password: SecretStr | None = None
    """HTTP Basic credentials for the controller and the broker (both or neither)."""

    query_timeout_ms: int = Field(default=1000, gt=0)
    """Pinot's ``timeoutMs`` for each read; past it the broker answers with an error."""

    http_timeout_s: float = Field(default=5.0, gt=0)
    """Client-side limit on one HTTP call (pinotdb has none by default)."""

    write_timeout_s: float = Field(default=30.0, gt=0)
    """How long a write waits for Kafka to acknowledge it."""

    retention_hours: int | None = Field(default=None, gt=0)
    """Retention of action-log tables (``retentionTimeValue`` in HOURS); by default
    each log's declared retention rounded up to whole hours."""

    max_string_length: int = Field(default=512, gt=0)
    """``maxLength`` of STRING columns; longer values are refused on write instead of truncated by Pinot."""

    wait_for_ingestion: StrictBool = False
    """Writes return only once Pinot serves them (tests, demos, backfills that read right after)."""

    ingestion_timeout_s: float = Field(default=30.0, gt=0)
    """Deadline for ``wait_for_ingestion`` and for a new table to become queryable."""

    @field_validator("controller_url", "broker_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _URL.fullmatch(value):
            raise ValueError(f"must be an http(s) URL such as http://localhost:9000, got {value!r}")
        return value.rstrip("/")

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value) or "__" in value:
            raise ValueError(f"must start with a letter and hold only letters, digits and single '_', got {value!r}")
        return value

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> "PinotOnlineStoreConfig":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        return self

    @model_validator(mode="after")
    def _variables_expanded(self) -> "PinotOnlineStoreConfig":
        """A ``${VAR}`` Feast could not expand is a missing credential, not a password."""
        password = self.password.get_secret_value() if self.password is not None else None
        fields: list[tuple[str, str | None]] = [("username", self.username), ("password", password)]
        for block in ("stream_properties", "kafka_producer_config"):
            fields += [(f"{block}[{key!r}]", value) for key, value in getattr(self, block).items()]
        for where, value in fields:
            found = _UNEXPANDED.search(value or "")
            if found:
                raise ValueError(f"online_store.{where}: environment variable {found.group(1)} is not set")
        return self

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name in ("stream_properties", "kafka_producer_config") and isinstance(value, dict):
                value = masked(value)
            yield name, value

    @property
    def secrets(self) -> frozenset[str]:
        """Every credential the settings hold, to be masked wherever text leaves the store."""
        found = {self.password.get_secret_value()} if self.password is not None else set()
        for block in (self.stream_properties, self.kafka_producer_config):
            for key, value in block.items():
                if is_secret_key(key):
                    found.add(value)
                    found.update(_JAAS_PASSWORD.findall(value))
        return frozenset(s for s in found if s)

    def redact(self, text: str) -> str:
        """``text`` with every credential of these settings replaced by asterisks."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    @property
    def stream_servers(self) -> str:
        return self.stream_bootstrap_servers or self.kafka_bootstrap_servers

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password.get_secret_value()
