"""Run the stand-in as a process, e.g. for the demo against ``PinotOnlineStore``.

    python -m tests.pinot_standin [--visibility-delay-ms 0]

It prints the controller and broker URLs and serves until interrupted. Tables
consume from the Kafka brokers their own stream configs name.
"""

from __future__ import annotations

import argparse
import signal
import threading

from tests.pinot_standin import ControllerTiming, PinotStandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pinot_standin", description=__doc__.splitlines()[0])
    parser.add_argument("--visibility-delay-ms", type=int, default=0, help="consumed -> queryable delay")
    args = parser.parse_args(argv)
    standin = PinotStandIn(ControllerTiming(visibility_delay_s=args.visibility_delay_ms / 1000)).start()
    print(f"PINOT_CONTROLLER_URL={standin.controller_url}", flush=True)
    print(f"PINOT_BROKER_URL={standin.broker_url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
