"""The ``PushMode`` of the ``FeatureStore.push`` call in progress, read from the call stack.

Feast hands the online store a push's rows but not its ``to``: a push of an
action log to the online store alone looks like the online half of
``ONLINE_AND_OFFLINE``. The mode is the ``to`` argument of the
``FeatureStore.push`` frame further up the stack (see
:mod:`feast_pinot.feast_internals`: the parameter's name is the dependency,
listed in :data:`INTERNALS`). ``push_async`` runs its writes in other tasks,
whose stacks do not hold it: its pushes are not recognised.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import FrameType
from typing import Any

from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot.feast_internals.table import Internal

__all__ = ["INTERNALS", "PushCall", "push_in_progress"]

INTERNALS: tuple[Internal, ...] = (Internal(FeatureStore, "push", ("push_source_name", "df", "to")),)
_PUSH = FeatureStore.push.__code__


@dataclass(frozen=True)
class PushCall:
    """A ``FeatureStore.push`` in progress: its mode, and the caller's line (where a warning points)."""

    mode: PushMode
    filename: str
    lineno: int
    caller_globals: dict[str, Any]


def push_in_progress() -> PushCall | None:
    """The innermost ``FeatureStore.push`` this call runs within, or None (materialize, the ingester)."""
    frame: FrameType | None = inspect.currentframe()
    while frame is not None and frame.f_code is not _PUSH:
        frame = frame.f_back
    if frame is None or frame.f_back is None:
        return None
    mode = frame.f_locals.get("to")
    if not isinstance(mode, PushMode):
        return None
    caller = frame.f_back
    return PushCall(mode, caller.f_code.co_filename, caller.f_lineno, caller.f_globals)
