"""Waiting on a condition: the polling helper of the development tools, the demo and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["eventually"]


def eventually(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Call ``check`` every ``interval_s`` until it holds; ``TimeoutError`` naming ``what`` after ``timeout_s``.

    The timeout only bounds a wait that went wrong: choose it far above what the
    condition takes on a loaded machine. ``check`` may raise to stop waiting early
    (a process it watches has died).
    """
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)
