"""The parity report as a table for people and as JSON for machines."""

from __future__ import annotations

import math
from typing import Any

from feast_pinot.parity.check import ParityReport

__all__ = ["as_json", "as_table"]


def _diff(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.3g}"


def as_table(report: ParityReport) -> str:
    """Mismatching features first; one line per feature, then the verdict."""
    where = f" at {report.instant_ms} ms" if report.instant_ms is not None else " (each row at its own instant)"
    lines = [f"parity ({report.mode}) of '{report.service}'{where}: {report.rows} rows of {report.actors} actors, "
             f"tolerance {report.tolerance:g}", "",
             "| feature | rows | mismatches | of them incomparable | max abs diff | within tolerance |",
             "|---|---|---|---|---|---|"]
    for f in sorted(report.features, key=lambda f: (f.mismatches == 0, f.feature)):
        lines.append(f"| {f.feature} | {f.rows} | {f.mismatches} | {f.incomparable} | {_diff(f.max_abs_diff)} "
                     f"| {f.share_within:.1%} |")
    bad = [f for f in report.features if f.mismatches]
    for f in bad:
        for example in f.examples:
            lines.append(f"  {f.feature}: row {example['row']}: served {example['served']}, "
                         f"offline {example['offline']}")
    verdict = "PASS" if report.passed else f"FAIL: {len(bad)} of {len(report.features)} features differ"
    return "\n".join([*lines, "", verdict]) + "\n"


def as_json(report: ParityReport) -> dict[str, Any]:
    return {
        "mode": report.mode, "service": report.service, "instant_ms": report.instant_ms, "rows": report.rows,
        "actors": report.actors, "tolerance": report.tolerance, "passed": report.passed,
        "features": [{
            "feature": f.feature, "rows": f.rows, "mismatches": f.mismatches, "incomparable": f.incomparable,
            "max_abs_diff": None if f.max_abs_diff is None or math.isinf(f.max_abs_diff) else f.max_abs_diff,
            "max_abs_diff_infinite": f.max_abs_diff is not None and math.isinf(f.max_abs_diff),
            "share_within_tolerance": f.share_within, "examples": list(f.examples),
        } for f in report.features],
    }
