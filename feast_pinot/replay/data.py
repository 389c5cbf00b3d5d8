"""The replay's input: an interactions table and the objects' embeddings, checked once.

``interactions`` has one row per action: ``actor``, ``object``, ``ts_ms``
(epoch ms), ``verb``; ``label`` (1 / 0, or missing for an action that is only
history) marks the rows the model predicts, and an optional ``group`` puts
labelled rows into candidate sets for a ranking metric. ``embeddings`` maps
every object to a vector known before the first interaction (attributes such
as genres and year, never anything learned from the interactions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from feast_pinot.errors import ReplayError

__all__ = ["REQUIRED_COLUMNS", "ReplayData", "read_table"]

REQUIRED_COLUMNS = ("actor", "object", "ts_ms", "verb")


@dataclass(frozen=True)
class ReplayData:
    """Checked interactions (sorted by time) and embeddings (objects x dim, float32)."""

    name: str
    interactions: pd.DataFrame
    objects: tuple[str, ...]
    embeddings: np.ndarray

    @staticmethod
    def of(name: str, interactions: pd.DataFrame, embeddings: Mapping[str, np.ndarray | list[float]]) -> ReplayData:
        frame = _checked_interactions(interactions)
        objects = tuple(sorted(set(frame["object"])))
        matrix = _checked_embeddings(objects, embeddings)
        return ReplayData(name, frame, objects, matrix)

    @property
    def labelled(self) -> pd.DataFrame:
        """The rows the model predicts, in time order."""
        return self.interactions[self.interactions["label"].notna()]

    @property
    def verbs(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.interactions["verb"])))

    @property
    def has_groups(self) -> bool:
        return "group" in self.interactions.columns


def _checked_interactions(raw: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ReplayError(f"interactions need the columns {list(REQUIRED_COLUMNS)}; missing {missing} "
                          f"(got {list(raw.columns)})")
    frame = raw.reset_index(drop=True).copy()
    for column in ("actor", "object", "verb"):
        if frame[column].isna().any():
            raise ReplayError(f"interactions: '{column}' is missing in {int(frame[column].isna().sum())} row(s)")
        frame[column] = frame[column].astype(str)
    if not pd.api.types.is_integer_dtype(frame["ts_ms"]):
        raise ReplayError(f"interactions: 'ts_ms' must be integer epoch milliseconds, got dtype {frame['ts_ms'].dtype}")
    frame["ts_ms"] = frame["ts_ms"].astype("int64")
    if "label" not in frame.columns:
        raise ReplayError("interactions need a 'label' column: 1 or 0 on the rows to predict, missing elsewhere")
    labels = pd.to_numeric(frame["label"], errors="coerce")
    bad = frame["label"].notna() & ~labels.isin([0, 1])
    if bad.any():
        raise ReplayError(f"interactions: 'label' must be 0, 1 or missing; row {int(np.flatnonzero(bad)[0])} "
                          f"has {frame['label'][bad].tolist()[0]!r}")
    frame["label"] = labels.astype("float64")
    if frame["label"].notna().sum() == 0 or frame["label"].nunique() < 2:
        raise ReplayError("interactions: the labelled rows need both classes (some 1 and some 0)")
    return frame.sort_values(["ts_ms", "actor", "object"], kind="stable").reset_index(drop=True)


def _checked_embeddings(objects: tuple[str, ...], embeddings: Mapping[str, np.ndarray | list[float]]) -> np.ndarray:
    absent = [o for o in objects if o not in embeddings]
    if absent:
        raise ReplayError(f"{len(absent)} object(s) of the interactions have no embedding, e.g. {absent[:3]}")
    sizes = {len(embeddings[o]) for o in objects}
    if len(sizes) != 1 or 0 in sizes:
        raise ReplayError(f"embeddings must all have the same non-zero length, got lengths {sorted(sizes)}")
    matrix = np.asarray([np.asarray(embeddings[o], dtype=np.float64) for o in objects])
    if not np.isfinite(matrix).all():
        raise ReplayError("embeddings must be finite (no NaN or infinity)")
    return matrix.astype(np.float32)


def read_table(path: str) -> pd.DataFrame:
    """A Parquet or CSV file as a frame (by its suffix)."""
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith(".csv"):
        return pd.read_csv(path)
    raise ReplayError(f"{path}: expected a .parquet or .csv file")
