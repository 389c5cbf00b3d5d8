"""Metric records, percentiles, the printed table and ``bench/results.json``."""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

__all__ = ["Metric", "RunRecord", "percentile", "table", "write_results"]


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


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunRecord:
    """What a README figure cites: the command, when it ran, on how many cores, and the machine's
    load (1-minute load average at the start and after each section, so a busy stretch shows)."""

    command: str = field(default_factory=lambda: " ".join(["python -m bench", *sys.argv[1:]]))
    started: str = field(default_factory=_utc_now)
    finished: str | None = None
    cpus: int = field(default_factory=lambda: os.cpu_count() or 0)
    load_averages: list[float] = field(default_factory=lambda: [round(os.getloadavg()[0], 2)])

    def sample_load(self) -> None:
        self.load_averages.append(round(os.getloadavg()[0], 2))

    def finish(self) -> None:
        self.sample_load()
        self.finished = _utc_now()

    def as_json(self) -> dict[str, object]:
        return {"command": self.command, "started": self.started, "finished": self.finished, "cpus": self.cpus,
                "load_average_min": min(self.load_averages), "load_average_max": max(self.load_averages)}


def write_results(metrics: list[Metric], path: Path, run: RunRecord) -> None:
    """``{"run": ..., "metrics": {name: {value, unit, baseline, ratio}}}``; rewritten after every section,
    so a run that dies later keeps what it measured (``run.finished`` stays null then)."""
    body = {
        "run": run.as_json(),
        "metrics": {m.name: {"value": m.value, "unit": m.unit, "baseline": m.baseline, "ratio": m.ratio}
                    for m in metrics},
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
