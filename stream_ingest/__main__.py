"""``python -m stream_ingest --config ingest.yaml`` (console script: ``stream-ingest``).

Exit codes: 0 after SIGTERM/SIGINT (flushed and committed), 2 for a bad
config, 3 when the broker or a store stayed unavailable past the retries
(nothing further committed: a restart replays from the last commit).
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stream_ingest.config import load_config
from stream_ingest.errors import ConfigError, IngestError
from stream_ingest.runner import build_runner

log = logging.getLogger("stream_ingest")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stream-ingest", description="Kafka raw events -> Feast action log")
    parser.add_argument("--config", type=Path, required=True, help="the ingester's YAML config")
    parser.add_argument("--bootstrap-servers", help="overrides kafka.bootstrap_servers")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                        help="move the startup objects out of the garbage collector's reach while running")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per Pinot query otherwise
    warnings.filterwarnings("ignore")  # Feast's per-call experimental notices would drown the status lines
    try:
        runner = build_runner(load_config(args.config, args.bootstrap_servers))
    except ConfigError as exc:
        print(f"stream-ingest: {exc}", file=sys.stderr)
        return 2
    previous = {sig: signal.signal(sig, lambda *_: runner.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with gc_frozen(args.gc_freeze):
            runner.run()
    except ConfigError as exc:  # kafka.properties librdkafka refuses: found when run() opens the clients
        print(f"stream-ingest: {exc}", file=sys.stderr)
        return 2
    except IngestError as exc:
        log.error("giving up (a restart replays from the last commit): %s", exc)
        return 3
    finally:  # main() may be called from other code: leave its signal handling as it was
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


@contextmanager
def gc_frozen(enabled: bool = True) -> Iterator[None]:
    """While inside, what exists now (Feast's registry, pandas, pyarrow: ~500k objects)
    is out of the collector's reach. The runner allocates many short-lived objects per
    event, so full collections come every few batches, and each would scan them all
    again. A process-wide setting: the application's to choose (``--gc-freeze``)."""
    if not enabled:
        yield
        return
    gc.collect()  # garbage now is freed, not kept for good
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


if __name__ == "__main__":
    raise SystemExit(main())
