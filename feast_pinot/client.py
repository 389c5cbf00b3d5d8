"""Small helpers for code that writes actions and builds training frames."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from feast import FeatureStore
from feast.data_source import PushMode
from feast.infra.online_stores.helpers import get_online_store_from_config

from feast_pinot import clock
from feast_pinot.actions import Action, actions_to_frame, datetime_to_ms, validate_actions, validate_push_rows
from feast_pinot.errors import (
    ActionValidationError,
    DeclarationError,
    FeastPinotWarning,
    OfflineWriteError,
    PushError,
)
from feast_pinot.offline.parts import resolve_path
from feast_pinot.online.backend import ChecksActions
from feast_pinot.push_checks import declared_keyings, online_only_message, online_push_checked, warn_unkeyed_objects
from feast_pinot.specs import ActionLogSpec, spec_of

__all__ = ["log_spec", "push_actions", "validate_frame", "with_request_ts"]


def log_spec(store: FeatureStore, log_name: str) -> ActionLogSpec:
    """The spec of a registered action log."""
    spec = spec_of(store.get_feature_view(log_name), ActionLogSpec)
    if spec is None:
        raise DeclarationError(f"'{log_name}' is not an action log")
    return spec


def push_actions(
    store: FeatureStore,
    log_name: str,
    actions: Iterable[Mapping[str, Any]] | pd.DataFrame,
    to: PushMode = PushMode.ONLINE_AND_OFFLINE,
) -> int:
    """Validate actions and push them to the log; return the count.

    ``actions`` is a list of standard-schema actions (dicts), or a DataFrame
    with either the standard schema's columns (``actor``, ``verb``, ``object``,
    ``timestamp``, ...) or the log's push-frame columns (the actor's join key,
    ``verb``, ``object``, ``event_timestamp``, optional ``action_id``,
    ``attributes`` and ``embedding``). numpy scalars and arrays are accepted.

    All or nothing: if any action is invalid, or holds a value the online store
    would refuse (Pinot: a NUL character, two consecutive single quotes),
    :class:`ActionValidationError` lists every problem and nothing is written.

    With ``ONLINE_AND_OFFLINE`` the offline log (the durable record) is written
    first, then the online store. If the log cannot be written, nothing was
    written online (:class:`OfflineWriteError` says so). If the online store
    then fails, :class:`PushError` names where the actions are; pushing the
    same actions again is harmless either way: their ``action_id`` (derived
    from the content when not given) makes both stores keep each action once.

    An object that no view over the log can key (``"12"`` where an attribute
    join or seen feature declares ``object_prefix="job:"``) is written, with a
    :class:`~feast_pinot.errors.FeastPinotWarning` naming the expected form;
    so is a push with ``PushMode.ONLINE``, which training data never sees.
    """
    spec = log_spec(store, log_name)
    if isinstance(actions, pd.DataFrame):
        good, bad = validate_frame(actions, spec, clock.now_ms())
    elif isinstance(actions, (Mapping, str, bytes)):
        raise ActionValidationError([(0, f"pass a list of actions or a DataFrame, not one {type(actions).__name__}")])
    else:
        good, bad = validate_actions(actions, spec, clock.now_ms())
    if bad:
        raise ActionValidationError(bad)
    if good and to is not PushMode.OFFLINE:
        _check_online(store, good)
    if to is PushMode.ONLINE:
        warnings.warn(online_only_message(spec, "push_actions"), FeastPinotWarning, stacklevel=2)
    if good:
        warn_unkeyed_objects(good, spec, declared_keyings(store, log_name))
        _push(store, spec, actions_to_frame(good, spec), to)
    return len(good)


def _check_online(store: FeatureStore, actions: list[Action]) -> None:
    """The online store's own refusals, before the offline log is written: all or nothing."""
    online = get_online_store_from_config(store.config.online_store)  # a new instance: connects lazily
    if isinstance(online, ChecksActions):
        online.check_actions(store.config.online_store, actions)


def _push(store: FeatureStore, spec: ActionLogSpec, frame: pd.DataFrame, to: PushMode) -> None:
    """The offline log first: once it holds the actions, a failure online is healed by pushing again."""
    if to in (PushMode.OFFLINE, PushMode.ONLINE_AND_OFFLINE):
        try:
            store.push(spec.push_source, frame, to=PushMode.OFFLINE)
        except OfflineWriteError as exc:
            # the store's message advises store.push users, who wrote online first; the cause is the failure
            cause = exc.__cause__ if isinstance(exc.__cause__, OfflineWriteError) else exc
            raise OfflineWriteError(f"{cause}; nothing was written to the online store", exc.written) from exc
    if to in (PushMode.ONLINE, PushMode.ONLINE_AND_OFFLINE):
        try:
            with online_push_checked():
                store.push(spec.push_source, frame, to=PushMode.ONLINE)
        except Exception as exc:
            if to is PushMode.ONLINE:
                raise
            raise PushError(
                f"{len(frame)} action(s) of '{spec.name}' are in its offline log "
                f"({resolve_path(store.repo_path, spec.path)}) but the online store did not take them: "
                f"{type(exc).__name__}: {exc}. Push the same actions again: their ids make the retry keep "
                f"each action once on both sides") from exc


def validate_frame(
    frame: pd.DataFrame, spec: ActionLogSpec, now_ms: int
) -> tuple[list[Action], list[tuple[int, str]]]:
    """:func:`~feast_pinot.actions.validate_actions` for a DataFrame of actions or a push frame."""
    if "actor" in frame.columns:
        return validate_actions(_records(frame, "timestamp"), spec, now_ms)
    if spec.actor_join_key in frame.columns:
        if "event_timestamp" not in frame.columns:
            raise ActionValidationError([(0, "a push frame needs an 'event_timestamp' column")])
        return validate_push_rows(_records(frame, "event_timestamp"), spec, now_ms)
    raise ActionValidationError([(0, (
        f"a DataFrame of actions needs an 'actor' column (the standard action schema) or "
        f"'{spec.actor_join_key}' (the push frame of '{spec.name}'); got columns {list(frame.columns)}"))])


def _records(frame: pd.DataFrame, time_column: str) -> list[dict[str, Any]]:
    """Rows as dicts: missing values None, a datetime time column as epoch ms."""
    out = frame.astype(object).where(frame.notna(), None)
    if time_column in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[time_column]):
        times = pd.to_datetime(frame[time_column], utc=True)
        out[time_column] = [None if pd.isna(t) else datetime_to_ms(t) for t in times]
    return out.to_dict("records")


def with_request_ts(entity_df: pd.DataFrame, timestamp_column: str = "event_timestamp") -> pd.DataFrame:
    """A copy of ``entity_df`` with ``request_ts`` (epoch ms) taken from its event time.

    Training rows then ask the windowed features exactly what a live request at
    that instant would.
    """
    out = entity_df.copy()
    times = pd.to_datetime(out[timestamp_column], utc=True)
    out["request_ts"] = [datetime_to_ms(t) for t in times]
    return out
