"""The query cache's bookkeeping, without a database: bounds, expiry, invalidation, epochs."""

from __future__ import annotations

from server.query_cache import QueryCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_and_bytes_are_bounded_lru_first() -> None:
    cache = QueryCache(max_entries=3, max_bytes=10)
    scope = ("t", "c")
    for name in "abc":
        assert cache.put(("t", name, "{}"), scope, b"xx", 60, cache.epoch(scope))
    assert cache.get(("t", "a", "{}")) == b"xx"  # a becomes most recent
    cache.put(("t", "d", "{}"), scope, b"xx", 60, cache.epoch(scope))
    assert cache.get(("t", "b", "{}")) is None and len(cache) == 3
    cache.put(("t", "e", "{}"), scope, b"x" * 9, 60, cache.epoch(scope))
    assert cache.bytes <= 10 and cache.stats.evictions >= 3
    assert not cache.put(("t", "big", "{}"), scope, b"x" * 11, 60, cache.epoch(scope))


def test_expiry_and_invalidation() -> None:
    clock = Clock()
    cache = QueryCache(clock=clock)
    users, other = ("t", "users"), ("t", "other")
    cache.put(("t", "q", "{}"), users, b"1", 5, cache.epoch(users))
    cache.put(("t", "r", "{}"), other, b"2", 5, cache.epoch(other))
    clock.now = 4.9
    assert cache.get(("t", "q", "{}")) == b"1"
    cache.changed("t", "users")
    assert cache.get(("t", "q", "{}")) is None
    assert cache.get(("t", "r", "{}")) == b"2"
    clock.now = 5.0
    assert cache.get(("t", "r", "{}")) is None and cache.stats.expirations == 1


def test_an_answer_older_than_a_change_is_not_stored() -> None:
    cache = QueryCache()
    scope = ("t", "users")
    marker = cache.epoch(scope)
    cache.changed("t", "users")  # a write committed while the query ran
    assert not cache.put(("t", "q", "{}"), scope, b"old", 60, marker)
    marker = cache.epoch(scope)
    cache.reset()  # the change feed reconnected: anything may have been missed
    assert not cache.put(("t", "q", "{}"), scope, b"old", 60, marker)
    assert cache.get(("t", "q", "{}")) is None
