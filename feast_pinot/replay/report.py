"""The replay's outputs: a Markdown table, a JSON report and a plot of the metrics against the delay."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from feast_pinot.errors import ReplayError
from feast_pinot.replay.run import FEATURE_SETS, FULL, OBJECT_ONLY, Outcome, ReplayReport

__all__ = ["delay_label", "parse_delay", "plot", "table", "to_json"]

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_delay(text: str) -> int:
    """``0``, ``30s``, ``10m``, ``1h``, ``7d``, ``250ms`` as milliseconds."""
    text = text.strip()
    if text == "0":
        return 0
    for unit in sorted(_UNITS, key=len, reverse=True):
        number = text.removesuffix(unit)
        if number != text and number.isdigit():
            return int(number) * _UNITS[unit]
    raise ReplayError(f"delay {text!r}: expected a whole number with a unit (ms, s, m, h, d), e.g. 10m")


def delay_label(ms: int) -> str:
    if ms == 0:
        return "0"
    for unit in ("d", "h", "m", "s", "ms"):
        if ms % _UNITS[unit] == 0:
            return f"{ms // _UNITS[unit]}{unit}"
    return f"{ms}ms"


def _cell(outcome: Outcome, metric: str) -> str:
    value = getattr(outcome, metric)
    return "-" if value is None else value.as_text()


def table(report: ReplayReport) -> str:
    """The delay curve of the full feature set, then the ablation (AUC per feature set and delay)."""
    delays = report.config.delays_ms
    has_ndcg = report.outcomes[0].ndcg is not None
    k = report.config.ndcg_k
    head = ["delay", "AUC [95% CI]", "AUC change vs 0", "log loss [95% CI]", "log loss change vs 0"]
    head += [f"NDCG@{k}"] if has_ndcg else []
    lines = [f"Feature set: all families ({FULL}). {report.test_rows} test rows of {report.test_actors} actors, "
             f"{report.train_rows} training rows; 95% intervals from {report.config.bootstrap} bootstrap "
             "replicates over the test actors; changes are paired with the first delay.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for delay in delays:
        o = report.outcome(FULL, delay)
        cells = [delay_label(delay), _cell(o, "auc"), _cell(o, "auc_change"), _cell(o, "log_loss"),
                 _cell(o, "log_loss_change")] + ([_cell(o, "ndcg")] if has_ndcg else [])
        lines.append("| " + " | ".join(cells) + " |")
    floor = report.outcome(OBJECT_ONLY, delays[0])
    lines += ["", f"The object's embedding alone (no history at all): AUC {floor.auc.as_text()}."]
    if not report.config.ablation:
        return "\n".join(lines) + "\n"
    lines += ["", "Ablation: AUC [95% CI] per feature set (each adds one family to the row above) and delay.", "",
              "| feature set | " + " | ".join(delay_label(d) for d in delays) + " |",
              "|---|" + "---|" * len(delays)]
    for name in FEATURE_SETS:
        lines.append(f"| {name} | " + " | ".join(report.outcome(name, d).auc.as_text() for d in delays) + " |")
    return "\n".join(lines) + "\n"


def to_json(report: ReplayReport) -> dict[str, Any]:
    out = dataclasses.asdict(report)
    out["config"]["features"] = repr(report.config.features)
    return out


def write_json(report: ReplayReport, path: Path) -> None:
    path.write_text(json.dumps(to_json(report), indent=2, sort_keys=True) + "\n")


def plot(report: ReplayReport, path: Path) -> None:
    """AUC, log loss (and NDCG@k with candidate groups) against the delay: one line per feature set,
    the full set with its interval; the object-only floor is in each panel's title."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # optional: the replay's extra
        raise ReplayError("the replay's plot needs matplotlib: pip install 'feast-pinot[replay]'") from None
    delays = report.config.delays_ms
    xs = list(range(len(delays)))
    panels = [("auc", "AUC (higher is better)"), ("log_loss", "log loss (lower is better)")]
    if report.outcomes[0].ndcg is not None:
        panels.append(("ndcg", f"NDCG@{report.config.ndcg_k} within groups (higher is better)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.4))
    for ax, (metric, title) in zip(axes, panels):
        for name in report.config.feature_sets:
            values = [getattr(report.outcome(name, d), metric) for d in delays]
            ax.plot(xs, [v.value for v in values], marker="o", label=name, linewidth=2.2 if name == FULL else 1)
            if name == FULL:
                ax.fill_between(xs, [v.low for v in values], [v.high for v in values], alpha=0.2,
                                label=f"{FULL}: 95% CI")
        floor = getattr(report.outcome(OBJECT_ONLY, delays[0]), metric)
        ax.set_xticks(xs, [delay_label(d) for d in delays])
        ax.set_xlabel("feature delay")
        ax.set_title(f"{title}\n{OBJECT_ONLY}: {floor.value:.4f}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{report.name}: model quality against feature delay ({report.test_rows} test rows)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
