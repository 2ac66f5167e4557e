"""The storefront's cache of the catalog's public answers (`web.public_reads.TtlCache`)."""

from __future__ import annotations

import asyncio

import pytest

from mercato.web.public_reads import TtlCache


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """A catalog call that counts its calls and waits until the test lets it answer."""

    def __init__(self, answer: str = "tea") -> None:
        self.calls = 0
        self.answer = answer
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return f"{self.answer}-{self.calls}"


async def test_an_answer_is_kept_for_its_seconds_then_asked_again() -> None:
    clock, load = Clock(), Loader()
    cache: TtlCache[str] = TtlCache(2.0, clock=clock)

    assert await cache.get("k", load) == "tea-1"
    clock.now += 1.9
    assert await cache.get("k", load) == "tea-1"
    clock.now += 0.2
    assert await cache.get("k", load) == "tea-2"
    assert load.calls == 2


async def test_an_answer_read_near_its_end_is_renewed_while_it_is_given_out() -> None:
    clock, load = Clock(), Loader()
    cache: TtlCache[str] = TtlCache(2.0, clock=clock)
    assert await cache.get("k", load) == "tea-1"
    load.gate.clear()  # the renewal takes its time

    clock.now += 1.6  # the last quarter of its life
    assert await cache.get("k", load) == "tea-1"  # at once, not waiting for the renewal
    await asyncio.sleep(0.01)
    assert load.calls == 2
    assert await cache.get("k", load) == "tea-1" and load.calls == 2  # one renewal at a time
    load.gate.set()
    await asyncio.sleep(0.01)

    assert await cache.get("k", load) == "tea-2"  # the renewed answer, for its own 2 s
    clock.now += 1.4
    assert await cache.get("k", load) == "tea-2" and load.calls == 2


async def test_an_answer_is_never_given_out_after_its_time() -> None:
    clock, load = Clock(), Loader()
    cache: TtlCache[str] = TtlCache(2.0, clock=clock)
    assert await cache.get("k", load) == "tea-1"
    clock.now += 1.9
    load.gate.clear()
    load.fail = RuntimeError("catalog down")
    assert await cache.get("k", load) == "tea-1"  # the renewal starts and fails
    load.gate.set()
    await asyncio.sleep(0.01)

    clock.now += 0.2
    load.fail = None
    assert await cache.get("k", load) == "tea-3"  # expired: asked for, not the old one


async def test_shoppers_asking_at_once_share_one_call() -> None:
    load = Loader()
    load.gate.clear()
    cache: TtlCache[str] = TtlCache(2.0)

    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(20)]
    await asyncio.sleep(0.01)
    load.gate.set()

    assert await asyncio.gather(*waiting) == ["tea-1"] * 20
    assert load.calls == 1


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    load = Loader()
    load.gate.clear()
    load.fail = RuntimeError("catalog down")
    cache: TtlCache[str] = TtlCache(2.0)

    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(3)]
    await asyncio.sleep(0.01)
    load.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in results)
    load.fail = None
    assert await cache.get("k", load) == "tea-2"  # asked again, not the failure


async def test_a_shopper_who_leaves_does_not_cancel_the_others_answer() -> None:
    load = Loader()
    load.gate.clear()
    cache: TtlCache[str] = TtlCache(2.0)

    first = asyncio.create_task(cache.get("k", load))
    second = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0.01)
    first.cancel()
    load.gate.set()

    assert await second == "tea-1"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await cache.get("k", load) == "tea-1" and load.calls == 1  # kept all the same


async def test_it_holds_at_most_its_number_of_answers_dropping_the_oldest() -> None:
    clock = Clock()
    cache: TtlCache[str] = TtlCache(60.0, max_entries=3, clock=clock)
    for key in "abcd":
        await cache.get(key, Loader(key))

    assert len(cache) == 3
    load = Loader("again")
    assert await cache.get("a", load) == "again-1"  # "a" was the oldest: dropped
    assert await cache.get("d", load) == "d-1"


async def test_zero_seconds_keeps_nothing() -> None:
    load = Loader()
    cache: TtlCache[str] = TtlCache(0)
    assert [await cache.get("k", load) for _ in range(3)] == ["tea-1", "tea-2", "tea-3"]
    assert len(cache) == 0
