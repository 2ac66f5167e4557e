"""The catalog's per-process context: what its routes share in a process.

Built once at start by `open_context` (the spec's `context`): the cache of search
answers (`catalog.search_cache`), sized by the settings, whose computations under way
are cancelled at shutdown. Routes reach it through the runtime; the product writes
clear it. Also the import jobs this process runs (`catalog.jobs`): cancelled at
shutdown too, which leaves them `interrupted` for their readers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from mercato.catalog.search_cache import SearchCache
from mercato.chassis.runtime import Runtime

__all__ = ["CatalogContext", "open_context"]


@dataclass
class CatalogContext:
    """What the catalog's routes share in a process."""

    search_cache: SearchCache[bytes]
    jobs: set[asyncio.Task[Any]] = field(default_factory=set)

    def run_job(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run an import job in the background, kept until it ends."""
        task = asyncio.create_task(work)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)


@asynccontextmanager
async def open_context(runtime: Runtime[Any, Any]) -> AsyncIterator[CatalogContext]:
    """The context of a catalog process, from its settings."""
    settings = runtime.settings
    cache: SearchCache[bytes] = SearchCache(
        seconds=settings.search_cache_seconds,
        capacity=settings.search_cache_megabytes * 2**20,
        weigh=len,
    )
    context = CatalogContext(cache)
    try:
        yield context
    finally:
        for task in list(context.jobs):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await cache.close()  # background recomputations must not outlive the database
