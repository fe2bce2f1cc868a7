"""Cached answers of named queries, never stale after an acknowledged write.

An entry is kept per (tenant, query, parameters) with the collection it read.
Every write to a collection, through any process, is announced by PostgreSQL
(``server.store.changes``); the announcement drops that collection's entries.
Before answering from cache the feed is synced, so a change committed before
the request arrived has always been applied. An answer computed while a
change to its collection arrived is not stored (the epoch check). When the
feed is disconnected nothing is served from cache. Memory is bounded by an
entry count and a byte budget (answers are kept as encoded protobuf bytes).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

Key = tuple[str, str, str]  # tenant, query name, canonical parameters
Scope = tuple[str, str]  # tenant, collection


@dataclass
class _Entry:
    scope: Scope
    payload: bytes
    expires: float


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0
    expirations: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class QueryCache:
    max_entries: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    clock: Callable[[], float] = time.monotonic
    stats: CacheStats = field(default_factory=CacheStats)
    _entries: OrderedDict[Key, _Entry] = field(default_factory=OrderedDict)
    _by_scope: dict[Scope, set[Key]] = field(default_factory=dict)
    _epochs: dict[Scope, int] = field(default_factory=dict)
    _reset_epoch: int = 0
    _bytes: int = 0

    # -- fed by the change feed -------------------------------------------------

    def changed(self, tenant: str, collection: str) -> None:
        scope = (tenant, collection)
        self._epochs[scope] = self._epochs.get(scope, 0) + 1
        for key in self._by_scope.pop(scope, set()):
            self._remove(key)
            self.stats.invalidations += 1

    def reset(self) -> None:
        """Forget everything: changes may have gone unseen."""
        self._reset_epoch += 1
        self.stats.invalidations += len(self._entries)
        self._entries.clear()
        self._by_scope.clear()
        self._bytes = 0

    # -- used by the named-query executor ------------------------------------------

    def epoch(self, scope: Scope) -> tuple[int, int]:
        """A marker to take before running a query; ``put`` refuses answers older than a change."""
        return self._reset_epoch, self._epochs.get(scope, 0)

    def get(self, key: Key) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        if entry.expires <= self.clock():
            self._remove(key)
            self.stats.expirations += 1
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry.payload

    def put(self, key: Key, scope: Scope, payload: bytes, ttl: float, marker: tuple[int, int]) -> bool:
        if marker != self.epoch(scope) or len(payload) > self.max_bytes:
            return False
        if key in self._entries:
            self._remove(key)
        self._entries[key] = _Entry(scope, payload, self.clock() + ttl)
        self._by_scope.setdefault(scope, set()).add(key)
        self._bytes += len(payload)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.stats.evictions += 1
        return True

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= len(entry.payload)
        keys = self._by_scope.get(entry.scope)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_scope[entry.scope]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes
