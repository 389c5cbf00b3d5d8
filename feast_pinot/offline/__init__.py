"""The offline side: the action log, the training-data engines, and Feast's offline store over them.

* :mod:`~feast_pinot.offline.parts`: the Parquet parts of an action log
  (where they live, their schema, writing and listing them). The ingester
  imports this module only; it needs neither Feast's offline store nor DuckDB.
* :mod:`~feast_pinot.offline.plan`: ``entity_df`` read once per call
  (:class:`EntityPlan`): row numbers, times, actors, request times.
* :mod:`~feast_pinot.offline.engine`: the training-data engine, arrays in,
  feature columns out (the families of :mod:`feast_pinot.features`); it knows
  no storage, so DuckDB and Spark both feed it.
* :mod:`~feast_pinot.offline.log`: the DuckDB engine's loader (the sorted,
  deduplicated log as the engine's arrays).
* :mod:`~feast_pinot.offline.history`: history lists as of each entity row's
  time, with one DuckDB range join (histories asked for by name, and those
  with a read-time attribute join).
* :mod:`~feast_pinot.offline.duckdb`: the one way DuckDB is opened.
* :mod:`~feast_pinot.offline.engines`: the seam between the store and the
  engines of the action-log views (:class:`ActionRequest` in, columns out);
  :mod:`~feast_pinot.offline.duckdb_engine` is the default engine.
* :mod:`~feast_pinot.offline.delegate`: the team's own Feast offline store,
  which keeps the ordinary views; :mod:`~feast_pinot.offline.duckdb_store` is
  the default one (Feast's DuckDB store, paths from the feature repo).
* :mod:`~feast_pinot.offline.required`: what ``feast apply`` checks of a repo
  with action logs (imported by the online stores: no Feast offline store here).
* :mod:`~feast_pinot.offline.store`: :class:`ActionLogOfflineStore`, the Feast
  adapter (``type: feast_pinot.offline.ActionLogOfflineStore``).

The store is imported on first use (Feast's loader asks this package for
it), so importing the parts module stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ActionLogOfflineStore", "ActionLogOfflineStoreConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("feast_pinot.offline.store"), name)
    raise AttributeError(f"module 'feast_pinot.offline' has no attribute {name!r}")
