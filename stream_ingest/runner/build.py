"""Wiring a runner from its config: the Feast repo opened and checked, the pipeline and sinks built."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Producer
from feast import FeatureStore
from feast.errors import FeatureViewNotFoundException

from feast_pinot.client import log_spec
from feast_pinot.errors import DeclarationError
from feast_pinot.offline.parts import resolve_path
from feast_pinot.specs import ActionLogSpec, HistorySpec, spec_of
from stream_ingest.config import IngestConfig, check_against_repo
from stream_ingest.errors import ConfigError
from stream_ingest.lookups import CachedLookup, FeastLookup, Lookup
from stream_ingest.marks import Marks, mark_store_beside
from stream_ingest.pipeline import Ingester, Pipeline
from stream_ingest.retry import RetryPolicy, describe
from stream_ingest.runner.clients import kafka_client, kafka_settings
from stream_ingest.runner.loop import KafkaRunner
from stream_ingest.sinks import KafkaDeadLetterSink, OfflineSink, make_online_sink
from stream_ingest.stats import Stats

__all__ = ["build_lookups", "build_runner", "open_repo", "startup_line"]


def _feature_store(repo: Path) -> FeatureStore:
    if not (repo / "feature_store.yaml").is_file():
        raise ConfigError(f"feast.repo_path: no feature_store.yaml in {repo}")
    try:
        # Feast raises many types here (its own, pydantic's, YAML's, OSError); all mean the repo cannot work.
        store = FeatureStore(repo_path=str(repo))
        store.list_feature_views()
    except Exception as exc:
        raise ConfigError(f"feast.repo_path: the Feast repo {repo} cannot be opened: {describe(exc)}") from None
    return store


def open_repo(config: IngestConfig) -> tuple[FeatureStore, ActionLogSpec]:
    """The Feast store and the target action log, checked against the config."""
    store = _feature_store(config.feast.repo_path)
    try:
        spec = log_spec(store, config.feast.action_log)
    except (DeclarationError, FeatureViewNotFoundException) as exc:
        raise ConfigError(f"feast.action_log: {exc}") from exc
    histories = [s for s in (spec_of(fv, HistorySpec) for fv in store.list_feature_views()) if s is not None]
    check_against_repo(config, spec, histories)
    return store, spec


def build_lookups(config: IngestConfig, store: FeatureStore) -> dict[str, Lookup]:
    return {
        name: CachedLookup(FeastLookup(store, lk.feature, f"lookups.{name}.feature"), lk.ttl_s, lk.max_entries)
        for name, lk in config.ingest_lookups().items()
    }


def build_runner(config: IngestConfig, stats: Stats | None = None) -> KafkaRunner:
    """A runner for ``config``: the Feast repo opened and checked; no Kafka client is opened before it runs."""
    store, spec = open_repo(config)
    offline_root = resolve_path(config.feast.repo_path, config.offline.path or spec.path)
    marks = Marks(mark_store_beside(offline_root, config.kafka.group_id))
    ingester = Ingester(
        Pipeline(config, spec, build_lookups(config, store)),
        make_online_sink(store, spec, config.online.write),
        OfflineSink(offline_root, spec, marks, config.offline.max_rows),
        KafkaDeadLetterSink(lambda: kafka_client(Producer, {**kafka_settings(config), "linger.ms": 5}),
                            config.dead_letter.topic),
        RetryPolicy.from_config(config.retry),
        stats,
    )
    return KafkaRunner(config, ingester, marks, startup_line(config, store, spec, offline_root))


def startup_line(config: IngestConfig, store: FeatureStore, spec: ActionLogSpec, offline_root: str | Path) -> str:
    """What the ingester will do, in one line: topics, group, action log, stores, dead letters."""
    online = store.config.online_store
    where = getattr(online, "path", None) or getattr(online, "controller_url", None)
    return (f"ingesting {', '.join(config.kafka.topics)} from {config.kafka.bootstrap_servers} as group "
            f"{config.kafka.group_id} into action log '{spec.name}': online store {online.type}"
            f"{f' ({where})' if where else ''}, offline log {offline_root}, dead letters to "
            f"{config.dead_letter.topic}")
