"""A short-lived cache of search answers, in each catalog process.

At 100,000 products a facet count reads every matching product, and so does a
search in another order than relevance (by price, say): 5-40 ms of work that no index
removes, the same for every shopper typing the same words; a search by relevance
reads its page alone (`catalog.ranking`), yet still costs several times a cached
answer. So the
answers of searches and of facet counts (what `listing.cacheable` says) are kept, up
to `capacity` (what `weigh` says they weigh: bytes, from the `search_cache_megabytes`
setting, so that many distinct searches, or pages of 100, cannot grow the process
without bound; the least recently used go first), and served while they are younger
than `seconds` (the `search_cache_seconds` setting; 0 turns it off).

An answer older than `REFRESH_AFTER` of `seconds` is still served, and computed again
in the background (once, whoever asks), so that a popular search is never waited for
after its first time: shoppers do not queue behind the recomputation, which at
100,000 products took a p99 of 350-600 ms at 16 connections where a waited-for
recomputation blocked every request for its key. An answer older than `seconds` is
never served: it is computed before answering.

What that costs in freshness: an answer may be up to `seconds` old. The process's
own product writes (create, edit, delete, import, restock) clear its cache, so a
single catalog serves its administrator's edits at once; another replica's writes
and the stock that checkouts reserve show within `seconds`. A product's own page, a
cart's lookup by ids and every listing without search words or facets are never
cached, and neither are an administrator's reads (their answer shows more).

Concurrent requests for a key being computed wait for that one computation (on
PostgreSQL a search awaits the database, and sixteen shoppers typing the same word
would otherwise run it sixteen times). The computation is shielded: a client that
goes away does not cancel it for the others. A failure is not kept; a background
recomputation that fails is logged and the old answer ages out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SearchCache"]

V = TypeVar("V")
REFRESH_AFTER = 0.8  # of `seconds`: an answer this old is computed again in the background
log = logging.getLogger("mercato.catalog")


class SearchCache(Generic[V]):
    """Values by key, served for `seconds`, weighing `capacity` at most (LRU)."""

    def __init__(
        self,
        *,
        seconds: float,
        capacity: int,
        weigh: Callable[[V], int] = lambda _: 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self.weigh = weigh
        self.clock = clock
        self.weight = 0  # of the values kept
        self._values: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._computing: dict[Hashable, asyncio.Task[V]] = {}
        self._generation = 0  # how many times it was cleared

    @property
    def enabled(self) -> bool:
        """Whether anything is kept at all."""
        return self.seconds > 0 and self.capacity > 0

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every value (the catalog's products changed)."""
        self._values.clear()
        self.weight = 0
        # A computation under way may have read the products before the change: its
        # waiters get its value, later requests compute again, and it is not kept.
        self._computing.clear()
        self._generation += 1

    async def close(self) -> None:
        """Cancel the computations under way (the process stops)."""
        tasks = list(self._computing.values())
        self._computing.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """The value for `key`: kept, being computed, or computed now (and kept)."""
        if not self.enabled:
            return await compute()
        found = self._values.get(key)
        if found is not None:
            age = self.clock() - found[0]
            if age < self.seconds:
                self._values.move_to_end(key)
                if age >= self.seconds * REFRESH_AFTER and key not in self._computing:
                    self._start(key, compute).add_done_callback(_log_failure)
                return found[1]
            self._forget(key)
        task = self._computing.get(key) or self._start(key, compute)
        return await asyncio.shield(task)

    def _start(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        task = asyncio.ensure_future(self._compute(key, compute))
        self._computing[key] = task
        return task

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        started, generation = self.clock(), self._generation  # its age counts from here
        try:
            value = await compute()
        finally:
            if self._computing.get(key) is asyncio.current_task():
                del self._computing[key]
        if generation == self._generation:  # else it may have read products since changed
            self._keep(key, value, started)
        return value

    def _keep(self, key: Hashable, value: V, stored_at: float) -> None:
        weight = self.weigh(value)
        if weight > self.capacity:
            return
        self._forget(key)
        self._values[key] = (stored_at, value)
        self.weight += weight
        while self.weight > self.capacity:
            self._forget(next(iter(self._values)))

    def _forget(self, key: Hashable) -> None:
        found = self._values.pop(key, None)
        if found is not None:
            self.weight -= self.weigh(found[1])


def _log_failure(task: asyncio.Task[object]) -> None:
    """Log what a background recomputation raised (nobody awaits it)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("a search answer could not be computed again: %r", error)
