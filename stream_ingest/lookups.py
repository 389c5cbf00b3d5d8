"""Attribute lookups: read an attribute by key, in batches, behind a TTL cache.

The enrich step never does I/O. For each micro-batch the pipeline collects
the keys it needs and asks each lookup once; :class:`CachedLookup` answers
repeated keys from memory, so a hot job's embedding is read from the store
once per TTL rather than once per event.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from feast import FeatureStore
from feast.errors import FeatureViewNotFoundException
from feast.types import PrimitiveFeastType

from stream_ingest.errors import ConfigError

__all__ = ["CachedLookup", "FeastLookup", "Key", "Lookup", "MemoryLookup"]

Key = int | str


class Lookup(Protocol):
    """Reads one attribute for many keys at once."""

    @property
    def name(self) -> str:
        """What is looked up, for messages (``job_attributes:embedding``)."""

    @property
    def key_is_int(self) -> bool:
        """Whether keys are integers (else strings)."""

    def get_many(self, keys: Collection[Key]) -> dict[Key, Any]:
        """The value of each key that has one; keys without a value are absent."""


class MemoryLookup:
    """A lookup over a dict; counts the keys it was asked for (for tests)."""

    def __init__(self, name: str, values: Mapping[Key, Any], key_is_int: bool = True) -> None:
        self._name = name
        self._values = dict(values)
        self._key_is_int = key_is_int
        self.requested: list[Key] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_is_int(self) -> bool:
        return self._key_is_int

    def get_many(self, keys: Collection[Key]) -> dict[Key, Any]:
        self.requested.extend(keys)
        return {k: self._values[k] for k in keys if k in self._values}


class FeastLookup:
    """One feature of a Feast feature view, read with ``get_online_features``."""

    def __init__(self, store: FeatureStore, feature_ref: str, config_key: str) -> None:
        view_name, self._feature = feature_ref.split(":", 1)
        try:
            view = store.get_feature_view(view_name)
        except FeatureViewNotFoundException:
            raise ConfigError(f"{config_key}: no feature view '{view_name}' in the repo") from None
        if self._feature not in {f.name for f in view.features}:
            raise ConfigError(f"{config_key}: feature view '{view_name}' has no feature '{self._feature}'")
        if len(view.entity_columns) != 1:
            raise ConfigError(f"{config_key}: '{view_name}' must have exactly one join key")
        column = view.entity_columns[0]
        self._join_key = column.name
        self._key_is_int = column.dtype in (PrimitiveFeastType.INT64, PrimitiveFeastType.INT32)
        self._store = store
        self._ref = feature_ref

    @property
    def name(self) -> str:
        return self._ref

    @property
    def key_is_int(self) -> bool:
        return self._key_is_int

    def get_many(self, keys: Collection[Key]) -> dict[Key, Any]:
        if not keys:
            return {}
        ordered = list(keys)
        # Failures are raised as the store raised them: the pipeline retries the
        # transient ones and narrows the others down to the keys that cause them.
        got = self._store.get_online_features(
            features=[self._ref], entity_rows=[{self._join_key: k} for k in ordered]
        ).to_dict()
        return {k: v for k, v in zip(ordered, got[self._feature]) if v is not None}


class CachedLookup:
    """A TTL cache in front of a lookup; absences are cached too.

    ``clock`` returns seconds (default ``time.monotonic``); tests pass a fake.
    """

    def __init__(
        self,
        inner: Lookup,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        # key -> (expires_at, found, value); insertion order = age, for eviction
        self._entries: OrderedDict[Key, tuple[float, bool, Any]] = OrderedDict()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def key_is_int(self) -> bool:
        return self._inner.key_is_int

    def get_many(self, keys: Collection[Key]) -> dict[Key, Any]:
        now = self._clock()
        found: dict[Key, Any] = {}
        missing: list[Key] = []
        for key in keys:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                missing.append(key)
            elif entry[1]:
                found[key] = entry[2]
        if missing:
            fetched = self._inner.get_many(missing)
            self._store(missing, fetched, now + self._ttl_s)
            found.update(fetched)
        return found

    def _store(self, keys: list[Key], fetched: Mapping[Key, Any], expires_at: float) -> None:
        for key in keys:
            self._entries.pop(key, None)  # re-inserted at the young end
            self._entries[key] = (expires_at, key in fetched, fetched.get(key))
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
