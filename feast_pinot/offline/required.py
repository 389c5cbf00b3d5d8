"""What a repo with action logs requires of its offline store, checked when ``feast apply`` runs.

An action log's batch source is a folder of Parquet parts that only
:class:`~feast_pinot.offline.ActionLogOfflineStore` reads: under any other
offline store, ``feast apply`` would succeed and ``feast materialize`` or
training data would fail later on a file error that names neither the log nor
the fix. The online stores call :func:`check_offline_store` from their
``update`` (which ``feast apply`` calls), so the mistake is named at once.

This module imports neither Feast's offline stores nor DuckDB: the online
stores (and the ingester through them) import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feast import FeatureView
from feast.repo_config import RepoConfig

from feast_pinot.errors import DeclarationError
from feast_pinot.specs import ActionLogSpec, HistorySpec, spec_of

__all__ = ["STORE_TYPE", "STORE_TYPES", "check_offline_store"]

STORE_TYPE = "feast_pinot.offline.ActionLogOfflineStore"
# the path of earlier releases names the same store
STORE_TYPES = (STORE_TYPE, "feast_pinot.offline_store.ActionLogOfflineStore")


def _type_of(offline: Any) -> str:
    """The ``type`` of a repo's ``offline_store`` block, however Feast holds it (dict, name or config)."""
    if isinstance(offline, dict):
        return str(offline.get("type", "dask"))
    if isinstance(offline, str):
        return offline
    return str(getattr(offline, "type", type(offline).__name__))


def check_offline_store(config: RepoConfig, views: Sequence[FeatureView]) -> None:
    """Raise :class:`DeclarationError` if ``views`` hold an action log or history and the store cannot read it."""
    found = _type_of(config.offline_config)
    if found in STORE_TYPES:
        return
    logs = sorted(v.name for v in views if isinstance(spec_of(v), (ActionLogSpec, HistorySpec)))
    if logs:
        raise DeclarationError(
            f"offline_store type '{found}' cannot read action logs ({', '.join(logs)}): "
            f"use 'type: {STORE_TYPE}' and keep your store as its delegate, e.g.\n"
            f"offline_store:\n  type: {STORE_TYPE}\n  delegate:\n    type: {found}\n    ...")
