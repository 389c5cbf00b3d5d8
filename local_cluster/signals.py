"""How the commands (``python -m local_cluster``, ``python -m local_cluster.broker``) know to stop."""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["stop_on_signals"]


def stop_on_signals() -> threading.Event:
    """An event SIGTERM or SIGINT (Ctrl-C) sets: a command waits on it, then stops what it started."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop
