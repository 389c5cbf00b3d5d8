"""The PNGs in docs/: freshness and online latency distributions, ranking latency against N."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["latency_plot", "scaling_plot"]


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (imported late: only the bench draws)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, ax: Any, title: str, path: Path) -> None:
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    _pyplot().close(fig)


def latency_plot(series: dict[str, list[float]], title: str, path: Path) -> None:
    """Empirical CDFs (log-scaled x) of each named series of milliseconds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for label, samples in series.items():
        values = np.sort(np.asarray(samples, dtype=float))
        ax.plot(values, np.arange(1, len(values) + 1) / len(values), label=f"{label} (n={len(values)})")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_ylabel("fraction of requests at or below")
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.axhline(0.99, color="grey", lw=0.5)
    _save(fig, ax, title, path)


def scaling_plot(samples: dict[int, dict[str, list[float]]], labels: dict[str, str], title: str,
                 path: Path) -> None:
    """p50 and p99 of each series against the number of rows per call (log-log)."""
    plt = _pyplot()
    sizes = sorted(samples)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for (key, label), color in zip(labels.items(), ("tab:blue", "tab:green", "tab:red", "tab:purple")):
        for q, style in ((50, "-"), (99, "--")):
            values = [float(np.percentile(samples[n][key], q)) for n in sizes]
            ax.plot(sizes, values, style, color=color, marker="o", label=f"{label} p{q}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.set_xlabel("rows per call (N candidates)")
    ax.set_ylabel("milliseconds per call")
    _save(fig, ax, title, path)
