"""``python -m feast_pinot.parity --repo PATH --service NAME [--mode sample|served] ...`` (docs/parity.md).

Prints the table, writes ``--json``; exits 0 when every feature agrees within
the tolerance, 1 when some do not, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from feast import FeatureStore

from feast_pinot.errors import FeastPinotError, ParityError
from feast_pinot.parity.check import check_sample, check_served
from feast_pinot.parity.report import as_json, as_table


def _instant(text: str | None) -> int | None:
    if text is None:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise ParityError(f"--at {text!r}: expected epoch milliseconds or an ISO time") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return int(stamp.value // 1_000_000)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m feast_pinot.parity", description=__doc__)
    parser.add_argument("--repo", required=True, help="the feature repo (its feature_store.yaml)")
    parser.add_argument("--service", required=True, help="the feature service to check")
    parser.add_argument("--mode", choices=("sample", "served"), default="sample")
    parser.add_argument("--log", help="the action log to sample actors from (default: the one the service reads)")
    parser.add_argument("--at", help="sample: the instant, epoch ms or ISO time (default: now)")
    parser.add_argument("--actors", type=int, default=50, help="sample: actors to draw")
    parser.add_argument("--candidates", type=int, default=3, help="sample: rows per actor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logs", help="served: logged responses, a Parquet file or folder")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest absolute difference that agrees")
    parser.add_argument("--json", help="write the JSON report here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if not (Path(args.repo) / "feature_store.yaml").is_file():
            raise ParityError(f"{args.repo} has no feature_store.yaml")
        store = FeatureStore(repo_path=args.repo)
        if args.mode == "served":
            if not args.logs:
                raise ParityError("--mode served needs --logs (the logged responses)")
            report = check_served(store, args.service, args.logs, tolerance=args.tolerance, log=args.log)
        else:
            report = check_sample(store, args.service, at_ms=_instant(args.at), actors=args.actors,
                                  candidates=args.candidates, seed=args.seed, tolerance=args.tolerance,
                                  log=args.log)
    except FeastPinotError as exc:
        print(f"parity: {exc}", file=sys.stderr)
        return 2
    print(as_table(report), end="")
    if args.json:
        Path(args.json).write_text(json.dumps(as_json(report), indent=2, default=str) + "\n")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
