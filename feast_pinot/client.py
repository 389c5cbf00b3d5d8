"""Small helpers for code that writes actions and builds training frames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot import clock
from feast_pinot.actions import actions_to_frame, datetime_to_ms, validate_actions
from feast_pinot.errors import ActionValidationError, DeclarationError
from feast_pinot.specs import ActionLogSpec, spec_of

__all__ = ["push_actions", "with_request_ts", "log_spec"]


def log_spec(store: FeatureStore, log_name: str) -> ActionLogSpec:
    """The spec of a registered action log."""
    spec = spec_of(store.get_feature_view(log_name))
    if not isinstance(spec, ActionLogSpec):
        raise DeclarationError(f"'{log_name}' is not an action log")
    return spec


def push_actions(
    store: FeatureStore,
    log_name: str,
    actions: Iterable[Mapping[str, Any]],
    to: PushMode = PushMode.ONLINE_AND_OFFLINE,
) -> int:
    """Validate standard-schema actions and push them to the log; return the count.

    All or nothing: if any action is invalid, :class:`ActionValidationError`
    lists every problem and nothing is written.
    """
    spec = log_spec(store, log_name)
    good, bad = validate_actions(actions, spec, clock.now_ms())
    if bad:
        raise ActionValidationError(bad)
    if good:
        store.push(spec.push_source, actions_to_frame(good, spec), to=to)
    return len(good)


def with_request_ts(entity_df: pd.DataFrame, timestamp_column: str = "event_timestamp") -> pd.DataFrame:
    """A copy of ``entity_df`` with ``request_ts`` (epoch ms) taken from its event time.

    Training rows then ask the windowed features exactly what a live request at
    that instant would.
    """
    out = entity_df.copy()
    times = pd.to_datetime(out[timestamp_column], utc=True)
    out["request_ts"] = [datetime_to_ms(t) for t in times]
    return out
