"""The PNGs in docs/: freshness and online latency distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["latency_plot"]


def latency_plot(series: dict[str, list[float]], title: str, path: Path) -> None:
    """Empirical CDFs (log-scaled x) of each named series of milliseconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for label, samples in series.items():
        values = np.sort(np.asarray(samples, dtype=float))
        ax.plot(values, np.arange(1, len(values) + 1) / len(values), label=f"{label} (n={len(values)})")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_ylabel("fraction of requests at or below")
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.axhline(0.99, color="grey", lw=0.5)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
