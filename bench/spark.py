"""Training data on the Spark engine, beside the DuckDB engine of the same run.

* ``historical_spark_local_s``: ``member_job_windows`` (the ``historical_s``
  features) over the same 100k rows x 1M actions, ``local[2]``;
* ``historical_spark_standalone_s``: the same on a standalone cluster on this
  machine (a master and two one-core workers, ``local_cluster.spark``);
* ``spark_core_speedup``: the cluster's time with one executor core over its
  time with two;
* ``historical_scale_<n>m_duckdb_s`` / ``_spark_local_s``: the scale curve
  (``docs/historical_scale.png``), both engines at 1M actions x 100k rows and
  3M x 300k.

Each measurement is a fresh process (``python -m bench.spark``): the engine
builds its session from the repo's ``spark_conf``, the call runs twice, and
the second (warm) time is the figure; the first, with the JVM's and the
Python workers' start, is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from feast import FeatureStore

from bench import historical
from bench.results import Metric

__all__ = ["scale_curve", "scale_plot", "spark_metrics"]

PARTITIONS = 16  # shuffle partitions, and so actor buckets


def _conf(master: str, cores: int, local_dir: Path) -> dict[str, str]:
    conf = {"spark.master": master, "spark.driver.memory": "4g", "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false", "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1", "spark.sql.shuffle.partitions": str(PARTITIONS),
            "spark.local.dir": str(local_dir)}
    if master.startswith("spark://"):
        conf |= {"spark.executor.cores": "1", "spark.cores.max": str(cores), "spark.executor.memory": "2g"}
    return conf


def _yaml(repo: Path, name: str, conf: dict[str, str]) -> Path:
    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    config["offline_store"] |= {"engine": "spark", "spark": {"spark_conf": conf}}
    path = repo / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(repo: Path, entities: Path, master: str, cores: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as local_dir:
        config = _yaml(repo, f"bench_spark_{cores}", _conf(master, cores, Path(local_dir)))
        env = {**historical._env(), "PYSPARK_PYTHON": sys.executable}
        out = subprocess.run([sys.executable, "-m", "bench.spark", str(repo), str(config), str(entities)],
                             capture_output=True, text=True, cwd=repo, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"Spark benchmark ({master}, {cores} core(s)) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spark_metrics(paths: dict[str, Path], duckdb_s: float, cluster_master: str | None) -> list[Metric]:
    """Local mode and (given a cluster) the standalone figures, against DuckDB's ``historical_s``."""
    local = _run(paths["ours"], paths["entities"], "local[2]", 2)
    base = "baseline: historical_s (DuckDB engine) of this run; first call {:.1f} s"
    metrics = [Metric("historical_spark_local_s", local["seconds"], "s", duckdb_s,
                      note=f"local[2], warm; {base.format(local['cold_s'])}")]
    if cluster_master is not None:
        two = _run(paths["ours"], paths["entities"], cluster_master, 2)
        one = _run(paths["ours"], paths["entities"], cluster_master, 1)
        metrics += [
            Metric("historical_spark_standalone_s", two["seconds"], "s", duckdb_s,
                   note=f"master + 2 one-core workers on this machine, warm; {base.format(two['cold_s'])}"),
            Metric("spark_core_speedup", one["seconds"] / two["seconds"], "x",
                   note=f"standalone: 1 executor core {one['seconds']:.1f} s / 2 cores {two['seconds']:.1f} s "
                        f"(target >= 1.7x; a 2-core machine shared with the driver)"),
        ]
    return metrics


def scale_curve(root: Path, points: list[tuple[int, int]]) -> Iterator[list[Metric]]:
    """Both engines at each (actions, entity rows), warm seconds: the metrics of one point at a time, so a
    long curve leaves what it measured; :func:`scale_plot` draws them."""
    for actions, rows in points:
        paths = historical.prepare_ours(root / f"scale-{actions}", rows, actions, max(2_000, actions // 50))
        duckdb_s = historical._run("ours", paths["ours"], paths["entities"])["seconds"]
        spark_s = _run(paths["ours"], paths["entities"], "local[2]", 2)["seconds"]
        size = f"{actions / 1e6:g}M actions x {rows / 1e3:g}k rows"
        yield [Metric(f"historical_scale_{_tag(actions)}_duckdb_s", duckdb_s, "s", note=f"{size}, DuckDB engine"),
               Metric(f"historical_scale_{_tag(actions)}_spark_local_s", spark_s, "s", duckdb_s,
                      note=f"{size}, Spark local[2]; baseline: DuckDB at this point")]


def _tag(actions: int) -> str:
    return f"{actions / 1e6:g}m"


def scale_plot(points: list[tuple[int, int]], metrics: dict[str, float], path: Path) -> None:
    """The scale curve from a run's metrics (the points it reached)."""
    found = {label: [metrics[name] for a, _ in points if (name := f"historical_scale_{_tag(a)}_{key}_s") in metrics]
             for label, key in (("duckdb", "duckdb"), ("spark local[2]", "spark_local"))}
    _plot(points, found, path)


def _plot(points: list[tuple[int, int]], found: dict[str, list[float]], path: Path) -> None:
    from bench.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    actions = [a for a, _ in points]
    for label, seconds in found.items():
        ax.plot(actions[: len(seconds)], seconds, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(actions, [f"{a / 1e6:g}M x {r / 1e3:g}k" for a, r in points])
    ax.set_xlabel("actions x entity rows (log)")
    ax.set_ylabel("seconds, warm (log)")
    _save(fig, ax, "get_historical_features: DuckDB vs Spark engine on one 2-core machine", path)


def _measure(repo: Path, config: Path, entities_path: Path) -> dict[str, float]:
    warnings.filterwarnings("ignore")
    store = FeatureStore(repo_path=str(repo), fs_yaml_file=config)
    entities = pd.read_parquet(entities_path)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        frame = store.get_historical_features(entity_df=entities, features=historical.WINDOW_FEATURES).to_df()
        times.append(time.perf_counter() - started)
        if len(frame) != len(entities):
            raise RuntimeError(f"spark: {len(frame)} rows out for {len(entities)} in")
    return {"cold_s": times[0], "seconds": times[1], "checksum": float(np.nansum(frame["job_apply_count_96h"]))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("config", type=Path)
    parser.add_argument("entities", type=Path)
    args = parser.parse_args()
    print(json.dumps(_measure(args.repo, args.config, args.entities)))
