"""The time the online path treats as "now".

Retention, the online history window and write-time validation all ask
:func:`now_ms`. Production code never sets it; :func:`frozen` pins it for a
replay or backtest (evaluate the online path as it would have answered at a
past instant), which is also how the parity tests step through time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["frozen", "now_ms"]

_pinned: ContextVar[int | None] = ContextVar("feast_pinot_now_ms", default=None)


def now_ms() -> int:
    """Epoch milliseconds: the pinned instant inside :func:`frozen`, else wall clock."""
    pinned = _pinned.get()
    return pinned if pinned is not None else time.time_ns() // 1_000_000


@contextmanager
def frozen(at_ms: int) -> Iterator[None]:
    """Pin :func:`now_ms` to ``at_ms`` (epoch ms) in this context."""
    token = _pinned.set(int(at_ms))
    try:
        yield
    finally:
        _pinned.reset(token)
