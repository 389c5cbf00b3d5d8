"""Every benchmark in one run: ``python -m bench [--quick]``.

Sets up its own repos and data in a temporary directory, measures each metric
against its baseline in the same run (interleaved), prints a table, writes
``bench/results.json`` and regenerates the plots in ``docs/``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from bench import historical, online, pinot, rank, spark
from bench.plots import latency_plot
from bench.repos import ours, plain_feast
from bench.results import Metric, table, write_results
from bench.stream import stream_metrics
from local_cluster.spark import start_spark

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"


@dataclass(frozen=True)
class Sizes:
    quick: bool
    online_calls: int
    http_requests: int
    entity_rows: int
    actions: int
    members: int
    repeats: int
    rank_sizes: tuple[int, ...]
    rank_calls: int
    scale: tuple[tuple[int, int], ...]  # (actions, entity rows) of the historical scale curve


FULL = Sizes(quick=False, online_calls=3000, http_requests=2000, entity_rows=100_000, actions=1_000_000,
             members=20_000, repeats=3,
             rank_sizes=(1, 10, 100, 500), rank_calls=1000,
             scale=((1_000_000, 100_000), (3_000_000, 300_000), (10_000_000, 1_000_000)))
QUICK = Sizes(quick=True, online_calls=300, http_requests=200, entity_rows=5_000, actions=50_000,
              members=2_000, repeats=1,
              rank_sizes=(1, 10, 100), rank_calls=200, scale=())


_STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[bench {time.perf_counter() - _STARTED:5.0f} s] {message}", flush=True)


def run(sizes: Sizes, root: Path, plots: Path) -> list[Metric]:
    metrics: list[Metric] = []
    say("online: building repos")
    # plain Feast holds as many members as the largest ranking call has rows
    mine, plain = ours(root / "online"), plain_feast(root / "online", members=max(sizes.rank_sizes))
    found, samples = online.online_latency(mine, plain, sizes.online_calls)
    metrics += [*found, online.multi_interest_latency(mine, sizes.online_calls)]
    latency_plot({"feast-pinot (3 batch + 18 windowed)": samples["ours"],
                  "plain Feast (5 scalars, SQLite)": samples["baseline"]},
                 "get_online_features, in process, 1 member", plots / "online_latency.png")
    say("http: feast serve")
    found, _ = online.http_latency(mine, sizes.http_requests)
    metrics += found
    say(f"ranking: one member, N = {list(sizes.rank_sizes)} candidates")
    found, by_size = rank.rank_latency(mine, plain, list(sizes.rank_sizes), sizes.rank_calls)
    metrics += [*found, rank.multi_interest_rank_latency(mine, 100, sizes.rank_calls)]
    rank.rank_plot(by_size, plots / "rank_latency.png")
    metrics += rank.http_rank_latency(mine, 100, sizes.http_requests // 2)
    say("stream: freshness and ingest rate (ingester, local broker)")
    found, freshness_samples = stream_metrics(root / "stream", sizes.quick)
    metrics += found
    latency_plot({"raw event -> visible (ingester, embedded)": freshness_samples},
                 "freshness: raw event produced -> visible in get_online_features", plots / "freshness.png")
    metrics += historical_run(sizes, root, plots)
    say("pinot: history reads, the example service and freshness on Apache Pinot")
    metrics += pinot.pinot_metrics(sizes.quick, root / "pinot")
    return metrics


def historical_run(sizes: Sizes, root: Path, plots: Path) -> list[Metric]:
    """The training-data build on both engines, and the scale curve."""
    say(f"historical: {sizes.entity_rows:,} entity rows x {sizes.actions:,} actions")
    paths = historical.prepare(root / "historical", sizes.entity_rows, sizes.actions, sizes.members)
    metrics = historical.historical_metrics(paths, sizes.repeats)
    duckdb_s = next(m.value for m in metrics if m.name == "historical_s")
    if sizes.quick:  # a smoke check: Spark's local mode; the standalone cluster is the Spark tests' (tests/spark)
        say("historical on Spark: local[2]")
        return metrics + spark.spark_metrics(paths, duckdb_s, None)
    say("historical on Spark: local[2], then a standalone master and two one-core workers")
    cluster = start_spark(root / "spark-cluster", workers=2, cores=1, memory="3g")
    try:
        metrics += spark.spark_metrics(paths, duckdb_s, cluster.master_url)
    finally:
        cluster.stop()
    say(f"historical scale curve: {sizes.scale}")
    spark.scale_curve(root / "scale", list(sizes.scale), plots / "historical_scale.png")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, Spark in local mode only: a smoke check in a few minutes")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--plots", type=Path, default=DOCS, help="where the PNGs go (default: docs/)")
    parser.add_argument("--historical-only", action="store_true",
                        help="only the training-data builds (DuckDB, Spark, the scale curve)")
    args = parser.parse_args(argv)
    for folder in (args.plots, args.out.parent):  # before a run of minutes, not at its first plot
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"cannot write to {folder}: {exc}")
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="feast-pinot-bench-") as tmp:
        sizes = QUICK if args.quick else FULL
        measure = historical_run if args.historical_only else run
        metrics = measure(sizes, Path(tmp), args.plots)
    write_results(metrics, args.out)
    print(table(metrics))
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
