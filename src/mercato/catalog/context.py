"""The catalog's per-process context: what its routes share in a process.

Built once at start by `open_context` (the spec's `context`): the cache of search
answers (`catalog.search_cache`), sized by the settings, whose computations under way
are cancelled at shutdown. Routes reach it through the runtime; the product writes
clear it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mercato.catalog.search_cache import SearchCache
from mercato.chassis.runtime import Runtime

__all__ = ["CatalogContext", "open_context"]


@dataclass
class CatalogContext:
    """What the catalog's routes share in a process."""

    search_cache: SearchCache[bytes]


@asynccontextmanager
async def open_context(runtime: Runtime[Any, Any]) -> AsyncIterator[CatalogContext]:
    """The context of a catalog process, from its settings."""
    settings = runtime.settings
    cache: SearchCache[bytes] = SearchCache(
        seconds=settings.search_cache_seconds,
        capacity=settings.search_cache_megabytes * 2**20,
        weigh=len,
    )
    try:
        yield CatalogContext(cache)
    finally:
        await cache.close()  # background recomputations must not outlive the database
