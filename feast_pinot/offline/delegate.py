"""The delegate: the Feast offline store that keeps the team's ordinary feature views.

``offline_store.delegate`` in ``feature_store.yaml`` is any Feast offline store's
block, resolved the way Feast resolves ``offline_store`` itself (its short
names ``bigquery``, ``snowflake.offline``, ``redshift``, ``postgres``, ``spark``,
... or a ``module.ClassOfflineStore`` path, whose ``ClassOfflineStoreConfig``
holds the settings). It is validated when the repo config is loaded: an
unknown type, a missing extra or a misspelt key is an error naming the key.

Feast's stores read their settings from ``config.offline_store``, so each
delegate call gets a copy of the repo config whose ``offline_store`` is the
delegate's own config (:func:`delegate_repo_config`).

``duckdb`` (the default) is :class:`~feast_pinot.offline.duckdb_store.RepoDuckDBOfflineStore`:
Feast's DuckDB store with relative ``FileSource`` paths resolved against the
feature repo, as Feast's docs define them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feast.errors import FeastError
from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig
from feast.infra.offline_stores.offline_store import OfflineStore
from feast.infra.offline_stores.offline_utils import get_offline_store_from_config
from feast.repo_config import FeastConfigBaseModel, RepoConfig, get_offline_config_from_type
from pydantic import ValidationError

from feast_pinot.offline.duckdb_store import RepoDuckDBOfflineStore
from feast_pinot.offline.required import STORE_TYPES

__all__ = ["delegate_config", "delegate_repo_config", "delegate_store"]

_KEY = "offline_store.delegate"


def delegate_config(raw: Mapping[str, Any]) -> FeastConfigBaseModel:
    """The delegate's config from its ``feature_store.yaml`` block; ValueError naming the key that is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{_KEY} must be a mapping with a 'type' (a Feast offline store's block), "
                         f"got {type(raw).__name__}")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{_KEY}.type is missing: name the Feast offline store that keeps the ordinary "
                         f"views, e.g. 'type: snowflake.offline', 'bigquery', 'postgres', 'spark' or 'duckdb'")
    if kind in STORE_TYPES:
        raise ValueError(f"{_KEY}.type: '{kind}' is this store; the delegate is the store of the ordinary views")
    try:
        config_class = get_offline_config_from_type(kind)
    except (FeastError, ImportError) as exc:
        cause = f"; because {type(exc.__cause__).__name__}: {exc.__cause__}" if exc.__cause__ else ""
        raise ValueError(f"{_KEY}.type: cannot load the Feast offline store '{kind}' ({exc}{cause}); "
                         f"use one of Feast's names (bigquery, snowflake.offline, redshift, postgres, spark, "
                         f"duckdb, ...) or a module.ClassOfflineStore path, with its extra installed "
                         f"(e.g. pip install 'feast[snowflake]')") from exc
    try:
        return config_class(**raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_KEY}.{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
        raise ValueError(f"{problems} (settings of {config_class.__name__})") from exc


def delegate_store(config: FeastConfigBaseModel) -> OfflineStore:
    """The store that ``config`` configures (Feast's rule: the config class's name without ``Config``)."""
    if isinstance(config, DuckDBOfflineStoreConfig):
        return RepoDuckDBOfflineStore()
    return get_offline_store_from_config(config)


def delegate_repo_config(config: RepoConfig, offline: FeastConfigBaseModel) -> RepoConfig:
    """A copy of the repo config whose ``offline_store`` is ``offline``.

    Built anew, not copied: a copied RepoConfig keeps the offline config it
    already resolved.
    """
    fields = RepoConfig.model_fields
    given = {(fields[name].alias or name) if name in fields else name: value for name, value in config}
    return RepoConfig(**{**given, "offline_store": offline})
