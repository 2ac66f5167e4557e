"""A shop of the `open_shop` harness served by its own event loop in a background thread.

Hypothesis' `RuleBasedStateMachine` is synchronous and the harness is not: the shop runs
in a loop of its own for a whole test, each step submits a coroutine to it and waits.
Every timeout of the shop is far above what a step takes (`open_patient_shop`), so that
nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.orders import Shop, open_shop
from tests.support.tokens import TokenFactory

__all__ = ["PATIENCE", "STEP_TIMEOUT", "ShopThread", "all_pages", "expect", "open_patient_shop"]

T = TypeVar("T")

STEP_TIMEOUT = 120.0  # only a hang gets near it; checkouts wait for their saga
PATIENCE = 30.0  # seconds: every timeout of the shop, far above what a call takes


def open_patient_shop(
    tmp_path: Path, tokens: TokenFactory
) -> contextlib.AbstractAsyncContextManager[Shop]:
    """The harness's `open_shop` with every timeout far above what a step takes.

    Its defaults (a 0.5 s provider, 2 s per service call, a checkout answering after
    5 s with its saga still running) can turn a good card into `payment_failed` on a
    loaded machine and make the property flake. The saga sweeper is slowed down so
    that only the checkout call itself can settle an order before the invariants look.
    """
    return open_shop(
        tmp_path,
        tokens,
        payments={
            "provider_timeout_seconds": PATIENCE,
            "charge_lease_seconds": 2 * PATIENCE,
        },
        client_timeout=PATIENCE,
        catalog_timeout_seconds=PATIENCE,
        payments_timeout_seconds=PATIENCE,
        checkout_timeout_seconds=2 * PATIENCE,
        sweep_interval_seconds=10 * PATIENCE,
        stale_after_seconds=10 * PATIENCE,
        lease_seconds=10 * PATIENCE,
    )


class ShopThread:
    """The harness's shop, served by an event loop of its own in a background thread."""

    def __init__(self, tmp_path: Path, tokens: TokenFactory) -> None:
        self._tmp_path = tmp_path
        self._tokens = tokens
        self._ready: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, Shop]] = (
            concurrent.futures.Future()
        )
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="shop-loop", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shop: Shop | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the test thread in `stop`/`start`
            self._error = exc
            if not self._ready.done():
                self._ready.set_exception(exc)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with open_patient_shop(self._tmp_path, self._tokens) as shop:
            self._ready.set_result((asyncio.get_running_loop(), shop))
            await self._stop.wait()

    def start(self) -> Shop:
        """Start the loop and the shop; the shop once it serves."""
        self._thread.start()
        self.loop, self.shop = self._ready.result(timeout=STEP_TIMEOUT)
        return self.shop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the shop's loop and wait for its result."""
        assert self.loop is not None, "the shop is not running"
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=STEP_TIMEOUT)

    def stop(self) -> None:
        """Leave the shop (servers stop) and end the loop and its thread."""
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=STEP_TIMEOUT)
        assert not self._thread.is_alive(), "the shop's loop did not stop"
        if self._error is not None:
            raise self._error


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body of a response that must have `status`."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    return response.json() if response.content else None


async def all_pages(
    client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]
) -> list[dict[str, Any]]:
    """Every item of a cursor-paged listing."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, str | int] = {**params, "limit": 100}
        if cursor:
            query["cursor"] = cursor
        page = expect(await client.get(path, params=query, headers=headers), 200)
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return found
