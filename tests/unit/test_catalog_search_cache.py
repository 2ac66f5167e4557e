"""Unit tests of the catalog's cache of search answers (`catalog.search_cache`)."""

from __future__ import annotations

import asyncio

import pytest

from mercato.catalog.search_cache import REFRESH_AFTER, SearchCache
from tests.support.clock import ManualClock


class Source:
    """A computation that counts its calls and can be held or made to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self) -> str:
        self.calls += 1
        n = self.calls
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("the database is down")
        return f"answer {n}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


def cache_on(clock: ManualClock, entries: int = 10) -> SearchCache[str]:
    return SearchCache(seconds=10.0, capacity=entries, clock=clock)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_answer_is_served_until_it_is_old_enough_to_refresh(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    assert await cache.get("q", source) == "answer 1"
    clock.advance(10.0 * REFRESH_AFTER - 0.01)
    assert await cache.get("q", source) == "answer 1"
    assert source.calls == 1


async def test_an_aging_answer_is_served_while_computed_again_once(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    await cache.get("q", source)
    clock.advance(10.0 * REFRESH_AFTER)
    source.gate = asyncio.Event()
    served = [await cache.get("q", source) for _ in range(3)]
    await settle()
    assert served == ["answer 1"] * 3 and source.calls == 2  # one recomputation
    source.gate.set()
    await settle()
    assert await cache.get("q", source) == "answer 2"


async def test_an_expired_answer_is_never_served(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    await cache.get("q", source)
    clock.advance(10.0)
    assert await cache.get("q", source) == "answer 2"


async def test_concurrent_misses_wait_for_one_computation(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    source.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("q", source)) for _ in range(16)]
    await settle()
    source.gate.set()
    assert await asyncio.gather(*waiting) == ["answer 1"] * 16
    assert source.calls == 1


async def test_a_client_that_goes_away_cancels_nothing_for_the_others(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    source.gate = asyncio.Event()
    first = asyncio.create_task(cache.get("q", source))
    second = asyncio.create_task(cache.get("q", source))
    await settle()
    first.cancel()
    source.gate.set()
    assert await second == "answer 1"
    assert await cache.get("q", source) == "answer 1"


async def test_a_failure_reaches_its_waiters_and_is_not_kept(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    source.fail = True
    with pytest.raises(RuntimeError, match="down"):
        await cache.get("q", source)
    source.fail = False
    assert await cache.get("q", source) == "answer 2"


async def test_a_failed_refresh_keeps_the_answer_until_it_expires(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache, source = cache_on(clock), Source()
    await cache.get("q", source)
    clock.advance(10.0 * REFRESH_AFTER)
    source.fail = True
    assert await cache.get("q", source) == "answer 1"
    await settle()
    assert "could not be computed again" in caplog.text
    assert await cache.get("q", source) == "answer 1"
    clock.advance(10.0)
    with pytest.raises(RuntimeError):
        await cache.get("q", source)


async def test_clearing_forgets_everything_and_what_was_being_computed(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    await cache.get("a", source)
    source.gate = asyncio.Event()
    reading = asyncio.create_task(cache.get("b", source))
    await settle()
    cache.clear()  # a write: what "b" is reading may predate it
    source.gate.set()
    assert await reading == "answer 2"  # its waiter still gets it...
    source.gate = None
    assert await cache.get("b", source) == "answer 3"  # ...but it was not kept
    assert await cache.get("a", source) == "answer 4"


async def test_the_least_recently_used_go_first(clock: ManualClock) -> None:
    cache, source = cache_on(clock, entries=2), Source()
    await cache.get("a", source)
    await cache.get("b", source)
    await cache.get("a", source)  # used: "b" is now the oldest
    await cache.get("c", source)
    assert len(cache) == 2
    assert await cache.get("a", source) == "answer 1"
    assert await cache.get("b", source) == "answer 4"


async def test_what_is_kept_weighs_the_capacity_at_most(clock: ManualClock) -> None:
    cache = SearchCache[str](seconds=10.0, capacity=20, weigh=len, clock=clock)

    async def value(text: str) -> str:
        return text

    await cache.get("a", lambda: value("a" * 8))
    await cache.get("b", lambda: value("b" * 8))
    assert (len(cache), cache.weight) == (2, 16)
    await cache.get("c", lambda: value("c" * 8))  # 24 > 20: the oldest goes
    assert (len(cache), cache.weight) == (2, 16)
    assert await cache.get("a", lambda: value("new")) == "new"
    await cache.get("huge", lambda: value("x" * 21))  # heavier than it all: not kept
    assert (len(cache), cache.weight) == (3, 19)
    cache.clear()
    assert (len(cache), cache.weight) == (0, 0)


async def test_off_computes_every_time_and_keeps_nothing(clock: ManualClock) -> None:
    cache, source = SearchCache[str](seconds=0, capacity=10, clock=clock), Source()
    assert not cache.enabled
    assert [await cache.get("q", source) for _ in range(2)] == ["answer 1", "answer 2"]
    assert len(cache) == 0


async def test_closing_cancels_what_is_being_computed(clock: ManualClock) -> None:
    cache, source = cache_on(clock), Source()
    await cache.get("q", source)
    clock.advance(10.0 * REFRESH_AFTER)
    source.gate = asyncio.Event()
    await cache.get("q", source)  # starts a refresh that waits on the gate
    await cache.close()
    source.gate.set()
    await settle()
    assert await cache.get("q", source) == "answer 1"
