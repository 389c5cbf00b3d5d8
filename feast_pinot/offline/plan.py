"""The offline plan: ``entity_df`` read once per training-data call, with one rule for every view.

Every history and windowed view of a call takes its rows from one
:class:`EntityPlan`: each row's number (so row order and duplicates survive
every join), its time ``t`` in epoch ms, its actor for a view (the view's
``join_key_map`` applied), its ``request_ts`` and the other columns a view
needs, each missing column an :class:`OfflineStoreError` naming the column and
who needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureView
from feast.infra.offline_stores.offline_utils import infer_event_timestamp_from_entity_df

from feast_pinot.errors import OfflineStoreError
from feast_pinot.features.inputs import request_time
from feast_pinot.specs import ActionLogSpec

__all__ = ["ROW_ID", "EntityPlan"]

ROW_ID = "__feast_pinot_row"


@dataclass(frozen=True)
class EntityPlan:
    """The entity rows of one call."""

    rows: pd.DataFrame  # entity_df, index reset, with ROW_ID
    ts_column: str
    t: np.ndarray  # (rows,) int64 epoch ms of each row's event timestamp

    @classmethod
    def of(cls, entity_df: pd.DataFrame) -> EntityPlan:
        ts_column = infer_event_timestamp_from_entity_df(dict(zip(entity_df.columns, entity_df.dtypes)))
        rows = entity_df.reset_index(drop=True).assign(**{ROW_ID: np.arange(len(entity_df))})
        times = pd.to_datetime(rows[ts_column], utc=True)
        t = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).astype("int64").to_numpy()
        return cls(rows, ts_column, t)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str, needed_by: str) -> pd.Series:
        """An entity_df column, or an error naming it and who needs it."""
        if name not in self.rows.columns:
            raise OfflineStoreError(f"entity_df needs column '{name}' for {needed_by}")
        return self.rows[name]

    def actors(self, view: FeatureView, log: ActionLogSpec) -> np.ndarray:
        """Each row's actor for ``view`` (a history of ``log``): its join key, renamed by the view's projection."""
        key = log.actor_join_key
        values = self.column(view.projection.join_key_map.get(key, key), f"history '{view.name}'")
        return values.astype("int64").to_numpy() if log.actor_is_int else values.astype(str).to_numpy()

    def entities(self, view: FeatureView, log: ActionLogSpec) -> pd.DataFrame:
        """``row_id``, ``actor`` and ``t`` of every row, for the SQL of a history."""
        return pd.DataFrame({"row_id": self.rows[ROW_ID].to_numpy(), "actor": self.actors(view, log), "t": self.t})

    def request_ts(self, name: str, needed_by: str) -> np.ndarray:
        """Each row's request time (epoch ms)."""
        if name not in self.rows.columns:
            raise OfflineStoreError(
                f"{needed_by} needs the entity_df column '{name}' (add it with feast_pinot.with_request_ts)")
        values = self.rows[name]
        if values.isna().any() or not pd.api.types.is_integer_dtype(values.dtype):
            raise OfflineStoreError(f"entity_df column '{name}' must hold epoch ms (integers, no nulls), "
                                    f"got dtype {values.dtype}")
        ms = values.to_numpy(np.int64)
        for row in sorted({int(ms.argmin()), int(ms.argmax())} if len(ms) else set()):  # the rule is a range
            request_time(int(ms[row]), name, row)  # the online rule: a RequestFieldError naming the row
        return ms

    def keys(self, name: str, needed_by: str) -> list[Any]:
        """A column's values as given, None for missing ones.

        From the entity rows as given: Feast's join turns a nullable Int64 column
        with a missing key into floats, which would match no integer key.
        """
        return [None if pd.isna(v) else v for v in self.column(name, needed_by).tolist()]
