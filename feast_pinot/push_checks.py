"""Warnings for writes that succeed yet cannot give what they were meant to.

* An action log pushed to the online store alone (``store.push``'s default,
  ``PushMode.ONLINE``): serving sees the actions, training data never will.
* An action whose object no view over the log can key (``"12"`` where the
  attribute join and the seen features read ``"post:12"``): stored, and never
  joined or matched.

Each is a :class:`~feast_pinot.errors.FeastPinotWarning` naming the fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot.actions import Action
from feast_pinot.errors import FeastPinotWarning
from feast_pinot.feast_internals.push import push_in_progress
from feast_pinot.keys import object_key
from feast_pinot.specs import ActionLogSpec, HistorySpec, WindowedFeaturesSpec, spec_of

__all__ = [
    "ObjectKeying",
    "declared_keyings",
    "online_only_message",
    "online_push_checked",
    "warn_if_online_only",
    "warn_unkeyed_objects",
]

# Set while push_actions pushes online: it chose the mode itself and warned already if it must.
_CHECKED: ContextVar[bool] = ContextVar("feast_pinot_online_push_checked", default=False)
_SHOWN = 3  # objects quoted in a warning


@contextmanager
def online_push_checked() -> Iterator[None]:
    """Within: the caller checked the push's mode itself (push_actions), so no online-only warning."""
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def warn_if_online_only(spec: ActionLogSpec) -> None:
    """Warn, at the caller's ``store.push`` line, if it pushes ``spec``'s actions with ``PushMode.ONLINE``."""
    call = push_in_progress()
    if call is None or call.mode is not PushMode.ONLINE or _CHECKED.get():
        return
    message = online_only_message(spec, "store.push", " (store.push's default)")
    registry = call.caller_globals.setdefault("__warningregistry__", {})  # once per line, as warnings.warn does
    warnings.warn_explicit(message, FeastPinotWarning, call.filename, call.lineno,
                           module=call.caller_globals.get("__name__"), registry=registry)


def online_only_message(spec: ActionLogSpec, pushed_by: str, default: str = "") -> str:
    return (
        f"{pushed_by} of action log '{spec.name}' with PushMode.ONLINE{default} writes the online store only: "
        f"training data (get_historical_features) will never see these actions. Push with "
        f"to=PushMode.ONLINE_AND_OFFLINE, or use feast_pinot.push_actions (both stores, offline log first)"
    )


@dataclass(frozen=True)
class ObjectKeying:
    """How a view over a log keys an action's object: ``object_prefix`` then the key."""

    view: str
    object_prefix: str
    key_is_int: bool

    def shown(self) -> str:
        key = "<integer>" if self.key_is_int else "<key>"
        return f"'{self.object_prefix}{key}' ({self.view})"


def declared_keyings(store: FeatureStore, log_name: str) -> list[ObjectKeying]:
    """Every object keying declared over the log: attribute joins of its histories, their seen features."""
    histories = [h for v in store.list_feature_views() if (h := spec_of(v, HistorySpec)) and h.log.name == log_name]
    keyings = [ObjectKeying(h.name, h.attribute.object_prefix, h.attribute.key_is_int)
               for h in histories if h.attribute is not None]
    names = {h.name for h in histories}
    for view in store.list_on_demand_feature_views():
        windowed = spec_of(view, WindowedFeaturesSpec)
        if windowed and windowed.seen and windowed.history in names:
            keyings.append(ObjectKeying(windowed.view, windowed.seen.object_prefix, windowed.seen.key_is_int))
    return keyings


def warn_unkeyed_objects(actions: Sequence[Action], spec: ActionLogSpec, keyings: Sequence[ObjectKeying]) -> None:
    """Warn (at push_actions' caller) about objects none of ``keyings`` can key."""
    if not keyings:
        return
    unkeyed = sorted({a.object for a in actions
                      if all(object_key(a.object, k.object_prefix, k.key_is_int) is None for k in keyings)})
    if not unkeyed:
        return
    quoted = ", ".join(repr(o) for o in unkeyed[:_SHOWN]) + (f" and {len(unkeyed) - _SHOWN} more"
                                                              if len(unkeyed) > _SHOWN else "")
    warnings.warn(
        f"{len(unkeyed)} object(s) pushed to '{spec.name}' match no declared object key, so no attribute join "
        f"or seen feature will ever match them: {quoted}. Objects must look like "
        f"{' or '.join(k.shown() for k in keyings)}; write e.g. "
        f"'{keyings[0].object_prefix}12', not '12'",
        FeastPinotWarning, stacklevel=3)
