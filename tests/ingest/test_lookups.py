"""The TTL cache in front of attribute lookups, on a fake clock."""

from __future__ import annotations

from stream_ingest.lookups import CachedLookup, MemoryLookup


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hits_are_served_from_the_cache_until_the_ttl_passes() -> None:
    inner = MemoryLookup("jobs:embedding", {1: [1.0], 2: [2.0]})
    clock = FakeClock()
    cached = CachedLookup(inner, ttl_s=10, max_entries=100, clock=clock)
    assert cached.get_many([1, 2]) == {1: [1.0], 2: [2.0]}
    clock.now += 9.9
    assert cached.get_many([1, 2]) == {1: [1.0], 2: [2.0]}
    assert inner.requested == [1, 2]  # the second call read nothing
    clock.now += 0.1  # expired now
    assert cached.get_many([2]) == {2: [2.0]}
    assert inner.requested == [1, 2, 2]


def test_absence_is_cached_too() -> None:
    inner = MemoryLookup("jobs:embedding", {1: [1.0]})
    cached = CachedLookup(inner, ttl_s=10, max_entries=100, clock=FakeClock())
    assert cached.get_many([1, 404]) == {1: [1.0]}
    assert cached.get_many([404]) == {}
    assert inner.requested == [1, 404]


def test_only_misses_are_read_in_one_call() -> None:
    inner = MemoryLookup("jobs:embedding", {k: [float(k)] for k in range(10)})
    cached = CachedLookup(inner, ttl_s=10, max_entries=100, clock=FakeClock())
    cached.get_many([1, 2])
    assert cached.get_many([1, 2, 3, 4]) == {k: [float(k)] for k in (1, 2, 3, 4)}
    assert inner.requested == [1, 2, 3, 4]


def test_the_oldest_entries_are_evicted_beyond_max_entries() -> None:
    inner = MemoryLookup("jobs:embedding", {k: [float(k)] for k in range(10)})
    cached = CachedLookup(inner, ttl_s=10, max_entries=2, clock=FakeClock())
    cached.get_many([1])
    cached.get_many([2])
    cached.get_many([3])  # evicts 1
    cached.get_many([2, 3])
    assert inner.requested == [1, 2, 3]
    cached.get_many([1])
    assert inner.requested == [1, 2, 3, 1]
    assert (cached.name, cached.key_is_int) == ("jobs:embedding", True)
