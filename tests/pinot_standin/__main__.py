"""Run the stand-in as a process, e.g. for the demo against ``PinotOnlineStore``.

    python -m tests.pinot_standin [--with-kafka] [--visibility-delay-ms 0]

It prints the controller and broker URLs (and, with ``--with-kafka``, the
bootstrap address of a local Kafka-protocol broker it starts), then the
``online_store:`` block for feature_store.yaml, and serves until interrupted.
Tables consume from the Kafka brokers their own stream configs name.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from contextlib import ExitStack

from tests.pinot_standin import ControllerTiming, PinotStandIn


def _yaml(standin: PinotStandIn, bootstrap: str) -> str:
    return "\n".join([
        "online_store:",
        "  type: feast_pinot.online.pinot.PinotOnlineStore",
        f"  controller_url: {standin.controller_url}",
        f"  broker_url: {standin.broker_url}",
        f"  kafka_bootstrap_servers: {bootstrap}",
        "  wait_for_ingestion: true",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pinot_standin", description=__doc__.splitlines()[0])
    parser.add_argument("--with-kafka", action="store_true",
                        help="start a local Kafka-protocol broker (unless KAFKA_BOOTSTRAP_SERVERS is set)")
    parser.add_argument("--visibility-delay-ms", type=int, default=0, help="consumed -> queryable delay")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if args.with_kafka and not bootstrap:
            from stream_ingest.local import LocalBroker

            bootstrap = stack.enter_context(LocalBroker.start()).bootstrap
        standin = PinotStandIn(ControllerTiming(visibility_delay_s=args.visibility_delay_ms / 1000)).start()
        stack.callback(standin.stop)
        print(f"PINOT_CONTROLLER_URL={standin.controller_url}", flush=True)
        print(f"PINOT_BROKER_URL={standin.broker_url}", flush=True)
        if bootstrap:
            print(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}", flush=True)
            print(_yaml(standin, bootstrap), flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
