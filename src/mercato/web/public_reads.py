"""The catalog's public answers, kept for a few seconds: what every shopper sees alike.

A product page, a category, a search results page and the front page show the same
catalogue to everyone. `PublicReads` asks the catalog as a visitor (no token, so no
answer can hold anything personal) and keeps each answer for `ttl` seconds
(`MERCATO_WEB_CATALOG_CACHE_SECONDS`, 2 by default; 0 turns it off): a product's price
or stock may show up to that late, which a shop accepts, while the cart and checkout
always price from the catalog itself. Carts, orders, cards and profiles are never
kept here.

`TtlCache` is the mechanism: at most `max_entries` answers (the oldest dropped
first), one call to the catalog per key at a time (the shoppers asking for the same
page meanwhile wait for that one answer instead of each calling), and a failure
never kept (the next shopper asks again). An answer in the last quarter of its life
is asked for again in the background by the first shopper who reads it, while it is
still given out: a page that is being read is renewed before it expires, and its
readers do not all wait for one new answer every `ttl` seconds (that wait was the
slowest hundredth of the pages' answers under load). No answer is given out after
its `ttl`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from mercato.web.api import catalog
from mercato.web.api.backend import Backend, Caller

__all__ = ["PublicReads", "TtlCache"]

T = TypeVar("T")
Clock = Callable[[], float]
REFRESH_AHEAD = 0.25  # the share of an answer's life in which it is renewed early


class TtlCache(Generic[T]):
    """Answers by key for `ttl` seconds; concurrent misses of one key share one load."""

    def __init__(self, ttl: float, *, max_entries: int = 2000, clock: Clock = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, T]] = {}
        self._loading: dict[Hashable, asyncio.Future[T]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The answer kept for `key`, or `load()`'s (kept when it succeeds)."""
        if self.ttl <= 0:
            return await load()
        entry = self._entries.get(key)
        if entry is not None:
            left = entry[0] - self.clock()
            if left > 0:
                if left < self.ttl * REFRESH_AHEAD and key not in self._loading:
                    self._load(key, load)  # renewed meanwhile; this answer is still good
                return entry[1]
        task = self._loading.get(key) or self._load(key, load)
        return await asyncio.shield(task)

    def _load(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        # A task of its own: a shopper who leaves does not cancel the others' answer.
        task = asyncio.ensure_future(load())
        self._loading[key] = task
        task.add_done_callback(lambda done: self._loaded(key, done))
        return task

    def _loaded(self, key: Hashable, task: asyncio.Future[T]) -> None:
        del self._loading[key]
        if not task.cancelled() and task.exception() is None:
            self._keep(key, task.result())

    def _keep(self, key: Hashable, value: T) -> None:
        now = self.clock()
        self._entries.pop(key, None)  # re-inserted last: the dict's order is the age
        if len(self._entries) >= self.max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
        self._entries[key] = (now + self.ttl, value)

    def clear(self) -> None:
        """Forget every answer."""
        self._entries.clear()


class PublicReads:
    """The catalog's public reads for the pages, as a visitor, kept for `ttl` seconds."""

    def __init__(self, backend: Backend, *, ttl: float) -> None:
        self.visitor = Caller(backend)
        self.categories_cache: TtlCache[tuple[catalog.Category, ...]] = TtlCache(ttl, max_entries=1)
        self.products_cache: TtlCache[catalog.Product] = TtlCache(ttl)
        self.listings_cache: TtlCache[catalog.ProductList] = TtlCache(ttl)
        # Whole pages as a visitor without a session sees them (`visitor_pages`).
        self.pages: TtlCache[bytes] = TtlCache(ttl, max_entries=1000)

    async def categories(self) -> tuple[catalog.Category, ...]:
        """Every category."""
        return await self.categories_cache.get(
            "categories", lambda: catalog.categories(self.visitor)
        )

    async def category(self, slug: str) -> catalog.Category | None:
        """The category `slug`, or None when there is none."""
        return next((c for c in await self.categories() if c.slug == slug), None)

    async def product(self, product_id: str) -> catalog.Product:
        """One product (`ApiError` 404: none)."""
        return await self.products_cache.get(
            product_id, lambda: catalog.product(self.visitor, product_id)
        )

    async def products(self, listing: catalog.Listing) -> catalog.ProductList:
        """One page of a listing or search."""
        return await self.listings_cache.get(
            listing, lambda: catalog.products(self.visitor, listing)
        )
