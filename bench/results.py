"""Metric records, percentiles, the printed table and ``bench/results.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Metric", "percentile", "table", "write_results"]


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def write_results(metrics: list[Metric], path: Path) -> None:
    body = {
        m.name: {"value": m.value, "unit": m.unit, "baseline": m.baseline, "ratio": m.ratio}
        for m in metrics
    }
    path.write_text(json.dumps(body, indent=2) + "\n")


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def table(metrics: list[Metric]) -> str:
    rows = [("metric", "value", "unit", "baseline", "ratio", "note")]
    rows += [(m.name, _fmt(m.value), m.unit, _fmt(m.baseline), _fmt(m.ratio), m.note) for m in metrics]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
