"""Training data over a log of many small parts, before and after compaction (``python -m bench.compaction``).

The bench repo's log is written in small writes, as the ingester's
checkpoints write it (``--part-actions`` actions per write, a part per event
date each); ``historical_s`` (the windowed features of ``bench.historical``,
DuckDB engine, a fresh process each) is measured on it, then
``feast_pinot.offline.compact`` runs, then ``historical_s`` again on the same
log. Prints the figures (tests/integration/test_compaction.py checks the
training data is equal before and after).

``--s3``: the same parts also go to a local S3 server (S3Proxy, started
here), into a copy of the repo whose log path is an ``s3://`` URI, and
``historical_s`` is measured on both, before and after compaction of each.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench import historical, spark
from feast_pinot.offline.compact import compact_log
from feast_pinot.offline.parts import log_parts
from feast_pinot.offline.storage import open_log
from local_cluster.cluster import DEFAULT_CACHE
from local_cluster.s3 import S3Server, local_s3


def _median_s(repo: Path, entities: Path, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of the build (CPU: steadier on a loaded machine)."""
    runs = [historical._run("ours", repo, entities) for _ in range(repeats)]
    return float(np.median([r["seconds"] for r in runs])), float(np.median([r["cpu_s"] for r in runs]))


def _spark_s(repo: Path, entities: Path) -> float:
    """The Spark engine's warm build in local mode (its own process, as the DuckDB builds)."""
    return float(spark._run(repo, entities, "local[2]", 2)["seconds"])


def _s3_twin(repo: Path, log: str, server: S3Server) -> tuple[Path, str]:
    """A copy of ``repo`` whose log is on the server, holding the same parts under the same names."""
    twin = repo.parent / "ours_s3"
    shutil.copytree(repo, twin)
    root = f"s3://{server.bucket}/bench/member_actions"
    features = twin / "features.py"
    features.write_text(features.read_text().replace('path="data/member_actions"', f'path="{root}"'))
    subprocess.run([str(Path(sys.executable).parent / "feast"), "apply"], cwd=twin, check=True, capture_output=True)
    target = open_log(root)
    for path in log_parts(log).paths:
        target.write_whole(target.path(*Path(path).relative_to(log).parts), Path(path).read_bytes())
    return twin, root


@contextlib.contextmanager
def _maybe_s3(wanted: bool) -> Iterator[S3Server | None]:
    if not wanted:
        yield None
        return
    with local_s3(DEFAULT_CACHE) as server:
        os.environ.update(server.client_env())  # this process and the measured ones are the server's clients
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compaction", description=__doc__)
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000, help="entity rows")
    parser.add_argument("--part-actions", type=int, default=1_000, help="actions per write")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="also on a local S3 server")
    parser.add_argument("--spark", action="store_true", help="also the Spark engine (local[2]) on each log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compaction-") as folder, _maybe_s3(args.s3) as server:
        paths = historical.prepare_ours(Path(folder), args.rows, args.actions, max(2_000, args.actions // 50),
                                        chunk=args.part_actions)
        repos = {"local disk": (paths["ours"], str(paths["ours"] / "data" / "member_actions"))}
        if server is not None:
            repos["S3Proxy"] = _s3_twin(*repos["local disk"], server)
        print(f"log: {args.actions:,} actions in {len(log_parts(repos['local disk'][1]).paths):,} parts "
              f"({args.part_actions:,} actions per write); {args.rows:,} entity rows; median of {args.repeats}")
        for where, (repo, log) in repos.items():
            before = _median_s(repo, paths["entities"], args.repeats)
            spark_before = _spark_s(repo, paths["entities"]) if args.spark else None
            started = time.perf_counter()
            done = compact_log(log, 0)
            compact_s = time.perf_counter() - started
            after = _median_s(repo, paths["entities"], args.repeats)
            if spark_before is not None:
                print(f"{where}: Spark local[2] {spark_before:.2f} s before compaction, "
                      f"{_spark_s(repo, paths['entities']):.2f} after (warm calls)", flush=True)
            print(f"{where}: historical_s {before[0]:.2f} before compaction, {after[0]:.2f} after "
                  f"(ratio {before[0] / after[0]:.2f}; CPU {before[1]:.2f} s and {after[1]:.2f} s); "
                  f"compaction {compact_s:.2f} s, "
                  f"{done.parts_before:,} parts -> {done.parts_after:,}", flush=True)


if __name__ == "__main__":
    main()
