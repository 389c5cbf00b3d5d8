"""Every benchmark in one run: ``python -m bench [--quick]``.

Sets up its own repos and data in a temporary directory, measures each metric
against its baseline in the same run (interleaved), prints a table, writes
``bench/results.json`` (the figures and the run: command, start and end, cores,
load average; rewritten after every section) and then regenerates the plots in
``docs/``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import historical, online, pinot, rank, spark
from bench.plots import latency_plot
from bench.repos import ours, plain_feast
from bench.results import Metric, RunRecord, table, write_results
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
             scale=((1_000_000, 100_000), (3_000_000, 300_000)))
QUICK = Sizes(quick=True, online_calls=300, http_requests=200, entity_rows=5_000, actions=50_000,
              members=2_000, repeats=1,
              rank_sizes=(1, 10, 100), rank_calls=200, scale=())


_STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[bench {time.perf_counter() - _STARTED:5.0f} s] {message}", flush=True)


@dataclass
class Bench:
    """What a run has measured so far, written to ``out`` after every section (a run that dies later keeps
    its figures); the plots are drawn last, from figures already on disk."""

    out: Path
    plots: Path
    record: RunRecord = field(default_factory=RunRecord)
    metrics: list[Metric] = field(default_factory=list)
    drawings: list[Callable[[], None]] = field(default_factory=list)

    def add(self, metrics: list[Metric]) -> None:
        self.metrics += metrics
        self.record.sample_load()
        write_results(self.metrics, self.out, self.record)

    def draw(self, drawing: Callable[[], None]) -> None:
        self.drawings.append(drawing)

    def finish(self) -> None:
        self.record.finish()
        write_results(self.metrics, self.out, self.record)
        for drawing in self.drawings:
            drawing()


def run(sizes: Sizes, root: Path, bench: Bench) -> None:
    say("online: building repos")
    # plain Feast holds as many members as the largest ranking call has rows
    mine, plain = ours(root / "online"), plain_feast(root / "online", members=max(sizes.rank_sizes))
    found, samples = online.online_latency(mine, plain, sizes.online_calls)
    bench.add([*found, online.multi_interest_latency(mine, sizes.online_calls)])
    bench.draw(lambda: latency_plot({"feast-pinot (3 batch + 18 windowed)": samples["ours"],
                                     "plain Feast (5 scalars, SQLite)": samples["baseline"]},
                                    "get_online_features, in process, 1 member", bench.plots / "online_latency.png"))
    say("http: feast serve")
    bench.add(online.http_latency(mine, sizes.http_requests)[0])
    say(f"ranking: one member, N = {list(sizes.rank_sizes)} candidates")
    found, by_size = rank.rank_latency(mine, plain, list(sizes.rank_sizes), sizes.rank_calls)
    bench.add([*found, rank.multi_interest_rank_latency(mine, 100, sizes.rank_calls)])
    bench.draw(lambda: rank.rank_plot(by_size, bench.plots / "rank_latency.png"))
    bench.add(rank.http_rank_latency(mine, 100, sizes.http_requests // 2))
    say("stream: freshness and ingest rate (ingester, local broker)")
    found, freshness_samples = stream_metrics(root / "stream", sizes.quick)
    bench.add(found)
    bench.draw(lambda: latency_plot({"raw event -> visible (ingester, embedded)": freshness_samples},
                                    "freshness: raw event produced -> visible in get_online_features",
                                    bench.plots / "freshness.png"))
    historical_run(sizes, root, bench)
    say("pinot: history reads, the example service, ranking and freshness on Apache Pinot")
    bench.add(pinot.pinot_metrics(sizes.quick, root / "pinot"))


def historical_run(sizes: Sizes, root: Path, bench: Bench) -> None:
    """The training-data build on both engines, and the scale curve."""
    say(f"historical: {sizes.entity_rows:,} entity rows x {sizes.actions:,} actions")
    paths = historical.prepare(root / "historical", sizes.entity_rows, sizes.actions, sizes.members)
    found = historical.historical_metrics(paths, sizes.repeats)
    bench.add(found)
    duckdb_s = next(m.value for m in found if m.name == "historical_s")
    if sizes.quick:  # a smoke check: Spark's local mode; the standalone cluster is the Spark tests' (tests/spark)
        say("historical on Spark: local[2]")
        bench.add(spark.spark_metrics(paths, duckdb_s, None))
        return
    say("historical on Spark: local[2], then a standalone master and two one-core workers")
    cluster = start_spark(root / "spark-cluster", workers=2, cores=1, memory="3g")
    try:
        bench.add(spark.spark_metrics(paths, duckdb_s, cluster.master_url))
    finally:
        cluster.stop()
    say(f"historical scale curve: {sizes.scale}")
    for point in spark.scale_curve(root / "scale", list(sizes.scale)):
        bench.add(point)
        say(", ".join(f"{m.name} {m.value:.1f} s" for m in point))
    bench.draw(lambda: spark.scale_plot(list(sizes.scale), {m.name: m.value for m in bench.metrics},
                                        bench.plots / "historical_scale.png"))


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
    bench = Bench(args.out, args.plots)
    with tempfile.TemporaryDirectory(prefix="feast-pinot-bench-") as tmp:
        sizes = QUICK if args.quick else FULL
        measure = historical_run if args.historical_only else run
        measure(sizes, Path(tmp), bench)
    bench.finish()
    print(table(bench.metrics))
    say(f"wrote {args.out} and the plots in {args.plots}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
