"""Training data over a log of many small parts, before and after compaction (``python -m bench.compaction``).

The bench repo's log is written in small writes, as the ingester's
checkpoints write it (``--part-actions`` actions per write, a part per event
date each); ``historical_s`` (the windowed features of ``bench.historical``,
DuckDB engine, a fresh process each) is measured on it, then
``feast_pinot.offline.compact`` runs, then ``historical_s`` again on the same
log. Prints the figures (tests/integration/test_compaction.py checks the
training data is equal before and after).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import historical
from feast_pinot.offline.compact import compact_log
from feast_pinot.offline.parts import log_parts


def _median_s(repo: Path, entities: Path, repeats: int) -> float:
    return float(np.median([historical._run("ours", repo, entities)["seconds"] for _ in range(repeats)]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compaction", description=__doc__)
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000, help="entity rows")
    parser.add_argument("--part-actions", type=int, default=1_000, help="actions per write")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compaction-") as folder:
        paths = historical.prepare_ours(Path(folder), args.rows, args.actions, max(2_000, args.actions // 50),
                                        chunk=args.part_actions)
        log = str(paths["ours"] / "data" / "member_actions")
        before_parts = len(log_parts(log).paths)
        before = _median_s(paths["ours"], paths["entities"], args.repeats)
        started = time.perf_counter()
        done = compact_log(log, 0)
        compact_s = time.perf_counter() - started
        after = _median_s(paths["ours"], paths["entities"], args.repeats)
    print(f"log: {args.actions:,} actions in {before_parts:,} parts ({args.part_actions:,} actions per write); "
          f"{args.rows:,} entity rows; median of {args.repeats}")
    print(f"historical_s before compaction: {before:.2f}")
    print(f"compaction: {compact_s:.2f} s, {done.parts_before:,} parts -> {done.parts_after:,}, "
          f"{done.rows_kept:,} rows rewritten")
    print(f"historical_s after compaction: {after:.2f} (ratio before/after {before / after:.2f})")


if __name__ == "__main__":
    main()
