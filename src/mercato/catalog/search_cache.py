"""A short-lived cache of search answers, in each catalog process.

At 100,000 products a one-word search ranks thousands of matches (BM25 or `ts_rank`
reads every one) and a facet count reads every matching product: 10-30 ms of work
that no index removes, the same for every shopper typing the same words. So the
answers of searches and of facet counts (what `cacheable` says) are kept for
`seconds` (the `search_cache_seconds` setting, 0 turns the cache off), at most
`entries` of them, the least recently used going first.

What that costs in freshness: an answer may be up to `seconds` old. The process's
own product writes (create, edit, delete, import, restock) clear its cache, so a
single catalog serves its administrator's edits at once; another replica's writes
and the stock that checkouts reserve show within `seconds`. A product's own page, a
cart's lookup by ids and every listing without search words or facets are never
cached, and neither are an administrator's reads (their answer shows more).

Concurrent misses of one key wait for a single computation (on PostgreSQL a search
awaits the database, and sixteen shoppers typing the same word would otherwise run
it sixteen times). The computation is shielded: a client that goes away does not
cancel it for the others. A failure is not cached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SearchCache"]

V = TypeVar("V")


class SearchCache(Generic[V]):
    """Values by key for `seconds` at most, `entries` of them at most (LRU)."""

    def __init__(
        self, *, seconds: float, entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.entries = entries
        self.clock = clock
        self._values: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._computing: dict[Hashable, asyncio.Task[V]] = {}
        self._generation = 0  # how many times it was cleared

    @property
    def enabled(self) -> bool:
        """Whether anything is kept at all."""
        return self.seconds > 0 and self.entries > 0

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every value (the catalog's products changed)."""
        self._values.clear()
        # A computation under way may have read the products before the change: its
        # waiters get its value, later requests compute again, and it is not kept.
        self._computing.clear()
        self._generation += 1

    def _fresh(self, key: Hashable) -> V | None:
        found = self._values.get(key)
        if found is None:
            return None
        stored_at, value = found
        if self.clock() - stored_at >= self.seconds:
            del self._values[key]
            return None
        self._values.move_to_end(key)
        return value

    def _store(self, key: Hashable, value: V, started: float) -> None:
        self._values[key] = (started, value)
        self._values.move_to_end(key)
        while len(self._values) > self.entries:
            self._values.popitem(last=False)

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """The value for `key`: kept, being computed, or computed now (and kept)."""
        if not self.enabled:
            return await compute()
        value = self._fresh(key)
        if value is not None:
            return value
        task = self._computing.get(key)
        if task is None:
            task = asyncio.ensure_future(self._compute(key, compute))
            self._computing[key] = task
        return await asyncio.shield(task)

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        started, generation = self.clock(), self._generation  # its age counts from here
        try:
            value = await compute()
        finally:
            if self._computing.get(key) is asyncio.current_task():
                del self._computing[key]
        if generation == self._generation:  # else it may have read products since changed
            self._store(key, value, started)
        return value
