"""Feature-by-feature comparison of what was served with what training data holds.

Two values agree when both are missing (None or NaN), when numbers are within
the absolute tolerance, when vectors have the same length and every element
is within it, or when anything else (text, bytes) is equal. A value missing on
one side only, vectors of different lengths or values of different kinds are
*incomparable*: a mismatch with no numeric difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FeatureParity", "compare_feature", "difference"]

_EXAMPLES = 3


@dataclass(frozen=True)
class FeatureParity:
    """One feature over all compared rows."""

    feature: str
    rows: int
    mismatches: int
    incomparable: int  # of the mismatches: missing on one side, other length or kind
    max_abs_diff: float | None  # over the rows with a numeric difference; None: none had one
    examples: tuple[dict[str, Any], ...] = field(default=())  # the first mismatching rows

    @property
    def share_within(self) -> float:
        return 1.0 - self.mismatches / self.rows if self.rows else 1.0


def _missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (datetime, pd.Timestamp)):
        return pd.Timestamp(value).value / 1e6  # ms: timestamps compare at millisecond scale
    return None


def _vector(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray) or (isinstance(value, Sequence) and not isinstance(value, (str, bytes))):
        try:
            return np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return None
    return None


def difference(served: Any, offline: Any) -> float | None:
    """The absolute difference (the largest element's for vectors); 0.0 for equal non-numbers;
    None when the two cannot be compared (missing on one side, other length or kind)."""
    if _missing(served) or _missing(offline):
        return 0.0 if _missing(served) and _missing(offline) else None
    a, b = _number(served), _number(offline)
    if a is not None and b is not None:
        return abs(a - b)
    va, vb = _vector(served), _vector(offline)
    if va is not None and vb is not None:
        if va.shape != vb.shape:
            return None
        both_nan = np.isnan(va) & np.isnan(vb)
        diffs = np.where(both_nan, 0.0, np.abs(va - vb))
        return float(np.nan_to_num(diffs, nan=math.inf).max()) if diffs.size else 0.0
    if type(served) is not type(offline) and not (isinstance(served, str) and isinstance(offline, str)):
        return None
    return 0.0 if served == offline else None


def _shown(value: Any) -> Any:
    vector = _vector(value)
    if vector is not None:
        return [float(x) for x in vector[:8]] + (["..."] if vector.size > 8 else [])
    number = _number(value)
    if number is not None or _missing(value):
        return None if _missing(value) else number
    return repr(value)[:80]


def compare_feature(feature: str, served: Sequence[Any], offline: Sequence[Any], tolerance: float,
                    row_keys: Sequence[dict[str, Any]]) -> FeatureParity:
    """Compare one feature row by row (``served[i]`` with ``offline[i]``, both for ``row_keys[i]``)."""
    mismatches = incomparable = 0
    largest: float | None = None
    examples: list[dict[str, Any]] = []
    for i, (a, b) in enumerate(zip(served, offline)):
        diff = difference(a, b)
        if diff is not None:
            largest = diff if largest is None else max(largest, diff)
        if diff is not None and diff <= tolerance:
            continue
        mismatches += 1
        incomparable += diff is None
        if len(examples) < _EXAMPLES:
            examples.append({"row": row_keys[i], "served": _shown(a), "offline": _shown(b)})
    return FeatureParity(feature, len(served), mismatches, incomparable, largest, tuple(examples))
