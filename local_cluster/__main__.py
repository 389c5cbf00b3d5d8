"""``python -m local_cluster [--port-base N] [--secured] [--s3] [--fetch-only] [--cache DIR]``: a local Pinot + Kafka.

Runs until Ctrl-C (or SIGTERM). Installed from the wheel it is ``python -m feast_pinot_local_cluster``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from .cluster import DEFAULT_CACHE, fetch_runtimes, local_cluster
from .errors import LocalClusterError
from .s3 import local_s3, summary
from .signals import stop_on_signals


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where the fetched jars are kept (default: .cache/local-cluster)")
    parser.add_argument("--fetch-only", action="store_true", help="download the jars, start nothing")
    parser.add_argument("--port-base", type=int, metavar="N",
                        help="fixed ports N..N+9, the same on every start (Kafka on N, Pinot's controller on N+2 and "
                             "broker on N+3), so a feature_store.yaml stays valid across restarts; default: free "
                             "ports, new on every start")
    parser.add_argument("--secured", action="store_true",
                        help="Kafka with SASL/SCRAM and ACLs, Pinot with basic auth; prints the made-up passwords")
    parser.add_argument("--s3", action="store_true", help="also a local S3 server (S3Proxy) for the offline log")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    stop = stop_on_signals()
    try:
        if args.fetch_only:
            for runtime in fetch_runtimes(args.cache):
                print(f"{runtime.name} {runtime.version}: {runtime.size_mb:.0f} MB in {runtime.lib}")
            return 0
        with local_cluster(args.cache, secured=args.secured, port_base=args.port_base) as cluster:
            print("\n".join(cluster.summary()))
            if cluster.credentials is not None:
                print(f"kafka users (SCRAM-SHA-512): {cluster.credentials.kafka}")
                print(f"pinot users (basic auth): {cluster.credentials.pinot}")
            print("feature_store.yaml:\n" + cluster.online_store_block(), end="")
            with local_s3(args.cache) if args.s3 else contextlib.nullcontext() as s3:
                if s3 is not None:
                    print("\n".join(summary(s3)))
                print("Ctrl-C stops them.", flush=True)
                stop.wait()
            print("stopping...", flush=True)
    except LocalClusterError as error:
        print(f"local cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
