"""``python -m feast_pinot.replay {movielens,synthetic,files} [options]``: see docs/freshness.md.

Writes ``table.md``, ``report.json`` and ``freshness.png`` to ``--out``, prints
the table, and exits 2 with the reason on bad input.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np

from feast_pinot import Interests
from feast_pinot.errors import ReplayError
from feast_pinot.replay.data import ReplayData, read_table
from feast_pinot.replay.features import FeatureSettings
from feast_pinot.replay.report import parse_delay, plot, table, write_json
from feast_pinot.replay.run import ReplayConfig, run_replay

_H, _D = timedelta(hours=1), timedelta(days=1)


def _movielens(args: argparse.Namespace) -> tuple[ReplayData, FeatureSettings]:
    from feast_pinot.replay.movielens import movielens_data

    data = movielens_data(Path(args.data_dir) if args.data_dir else None, args.users)
    return data, FeatureSettings(
        windows={"1h": _H, "1d": _D, "7d": 7 * _D, "30d": 30 * _D},
        half_lives={"1h": _H, "1d": _D, "7d": 7 * _D},
        interests=Interests(k=3, half_life=7 * _D, verbs=("like",)),
        seen_windows={"1d": _D, "30d": 30 * _D},
        retention=365 * _D,
    )


def _synthetic(args: argparse.Namespace) -> tuple[ReplayData, FeatureSettings]:
    from feast_pinot.replay.synthetic import POSITIVE, synthetic_data

    data = synthetic_data(members=args.members, hours=args.hours)
    return data, FeatureSettings(
        windows={"1h": _H, "6h": 6 * _H, "1d": _D, "4d": 4 * _D},
        half_lives={"1h": _H, "1d": _D},
        interests=Interests(k=3, half_life=_D, verbs=POSITIVE),
        seen_windows={"1d": _D, "4d": 4 * _D},
        retention=10 * _D,
    )


def _files(args: argparse.Namespace) -> tuple[ReplayData, FeatureSettings]:
    embeddings = read_table(args.embeddings)
    if not {"object", "embedding"} <= set(embeddings.columns):
        raise ReplayError(f"{args.embeddings}: needs the columns 'object' and 'embedding' "
                          f"(got {list(embeddings.columns)})")
    vectors = {str(o): np.asarray(e, dtype=np.float64) for o, e in zip(embeddings["object"], embeddings["embedding"])}
    data = ReplayData.of(Path(args.interactions).stem, read_table(args.interactions), vectors)
    verbs = tuple(args.interest_verbs.split(",")) if args.interest_verbs else None
    return data, FeatureSettings(interests=Interests(k=3, half_life=7 * _D, verbs=verbs),
                                 retention=timedelta(days=args.retention_days))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m feast_pinot.replay", description=__doc__)
    sources = parser.add_subparsers(dest="source", required=True)
    ml = sources.add_parser("movielens", help="MovieLens 100k from the recbole 1.2.1 wheel")
    ml.add_argument("--data-dir", help="a folder with ml-100k.inter and ml-100k.item (default: the installed wheel)")
    ml.add_argument("--users", type=int, help="only the first N users (a reduced run)")
    ml.set_defaults(load=_movielens)
    syn = sources.add_parser("synthetic", help="the demo's generator, whose members drift between topics")
    syn.add_argument("--members", type=int, default=200)
    syn.add_argument("--hours", type=float, default=240.0)
    syn.set_defaults(load=_synthetic)
    files = sources.add_parser("files", help="your own interactions and embeddings (Parquet or CSV)")
    files.add_argument("--interactions", required=True,
                       help="columns actor, object, ts_ms, verb, label (1/0/empty), optional group")
    files.add_argument("--embeddings", required=True, help="columns object, embedding (a list of floats)")
    files.add_argument("--interest-verbs", help="comma-separated verbs to cluster (default: all)")
    files.add_argument("--retention-days", type=int, default=90)
    files.set_defaults(load=_files)
    for sub in (ml, syn, files):
        sub.add_argument("--delays", default="0,1m,10m,1h,1d,7d", help="comma-separated, e.g. 0,1m,1h,1d")
        sub.add_argument("--bootstrap", type=int, default=500, help="bootstrap replicates over test actors")
        sub.add_argument("--test-fraction", type=float, default=0.2, help="the latest share of labelled rows")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--no-ablation", action="store_true", help="fit only the full feature set (faster)")
        sub.add_argument("--out", default=None, help="output folder (default: replay-output/<source>)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    try:
        data, settings = args.load(args)
        config = ReplayConfig(delays_ms=tuple(parse_delay(d) for d in args.delays.split(",")),
                              test_fraction=args.test_fraction, bootstrap=args.bootstrap, seed=args.seed,
                              features=settings, ablation=not args.no_ablation)
        with tempfile.TemporaryDirectory(prefix="feast-pinot-replay-") as workdir:
            report = run_replay(data, config, Path(workdir), progress=lambda m: print(f"[replay] {m}", flush=True))
    except ReplayError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"replay-output/{args.source}")
    out.mkdir(parents=True, exist_ok=True)
    text = table(report)
    (out / "table.md").write_text(text)
    write_json(report, out / "report.json")
    plot(report, out / "freshness.png")
    print(text)
    print(f"[replay] {len(data.interactions)} interactions, wall time {time.perf_counter() - started:.0f} s; "
          f"wrote {out}/table.md, report.json, freshness.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
