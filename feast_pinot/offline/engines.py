"""The seam between the offline store and the engines that compute action-log views.

:class:`~feast_pinot.offline.ActionLogOfflineStore` resolves a training-data
call (which views, which columns, the entity rows once as an
:class:`~feast_pinot.offline.plan.EntityPlan`), has the delegate join the
ordinary views, and then asks an engine one question: *compute these history
and windowed views for this plan* (:class:`ActionRequest` in, one column per
requested feature out, each in the plan's row order). The engine is chosen by
``offline_store.engine`` (:data:`ENGINES`); it knows nothing of the delegate.

An engine is imported on first use only, so an engine with heavy
dependencies (pyspark) costs nothing to a repo that does not select it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa
from feast import FeatureView, OnDemandFeatureView
from feast.repo_config import RepoConfig

from feast_pinot.offline.plan import EntityPlan
from feast_pinot.specs import HistorySpec, WindowedFeaturesSpec

__all__ = ["ENGINES", "ActionEngine", "ActionRequest", "ClusterFrames", "HistoryAsk", "WindowedAsk", "engine_named"]

# engine name in feature_store.yaml -> "module.Class" (constructed without arguments)
ENGINES: dict[str, str] = {
    "duckdb": "feast_pinot.offline.duckdb_engine.DuckDBEngine",
    "spark": "feast_pinot.offline.spark.seam.SparkEngine",
}


@dataclass(frozen=True)
class HistoryAsk:
    """A history view whose lists were asked for by name."""

    view: FeatureView
    spec: HistorySpec
    columns: dict[str, str]  # feature -> output column


@dataclass(frozen=True)
class WindowedAsk:
    """A windowed view over one of the request's histories."""

    view: OnDemandFeatureView
    spec: WindowedFeaturesSpec
    history: FeatureView
    history_spec: HistorySpec
    columns: dict[str, str]  # output -> output column
    # each row's candidate embedding, in row order: the delegate's value of
    # ``spec.candidate`` (an ordinary view's feature); None without a candidate
    candidates: pd.Series | None


@dataclass(frozen=True)
class ActionRequest:
    """The action-log views of one training-data call."""

    config: RepoConfig  # the repo's: logs and attribute sources are resolved against its repo_path
    plan: EntityPlan
    histories: tuple[HistoryAsk, ...]
    windowed: tuple[WindowedAsk, ...]


class ActionEngine(Protocol):
    """Computes action-log views."""

    def columns(self, request: ActionRequest) -> dict[str, Any]:
        """Every output column of the request (histories first, then windowed views), each in row order."""
        ...


@runtime_checkable
class ClusterFrames(Protocol):
    """An engine with frames of its own system (Spark): entity rows from them, training data into them."""

    def entity_rows(self, config: RepoConfig, entity_df: Any) -> pd.DataFrame | None:
        """``entity_df`` (a frame of the engine's system, or its SQL) as pandas rows in its order;
        None when it is not of that system."""
        ...

    def result_frame(self, config: RepoConfig, table: pa.Table) -> Any:
        """The training data as a frame of the engine's system."""
        ...

    def persist(self, config: RepoConfig, table: pa.Table, storage: Any, allow_overwrite: bool) -> bool:
        """Save the training data in ``storage`` if it is the engine's kind; False if it is not."""
        ...


def engine_named(name: str) -> ActionEngine:
    """A new engine of the kind ``name`` (one of :data:`ENGINES`)."""
    module, _, cls = ENGINES[name].rpartition(".")
    engine: ActionEngine = getattr(importlib.import_module(module), cls)()
    return engine
