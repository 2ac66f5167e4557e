"""Unit tests of auth's bound on password hashes in flight: sizing and admission."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mercato.auth.passwords import HashingBusy, Passwords, hash_slots
from mercato.chassis.container_limits import ContainerLimits

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("limits", "cpus", "slots"),
    [
        (ContainerLimits(), 16, 16),  # no cgroup limit: one per CPU
        (ContainerLimits(cpus=2.0), 16, 2),  # a CPU quota on a 16-core node
        (ContainerLimits(cpus=0.5), 16, 1),
        (ContainerLimits(cpus=1.5), 16, 2),
        # 64 MiB per hash times the node's 16 cores is 1 GiB: a 512 MiB limit allows 4.
        (ContainerLimits(memory_bytes=512 * MIB), 16, 4),
        (ContainerLimits(cpus=2.0, memory_bytes=512 * MIB), 16, 2),
        (ContainerLimits(memory_bytes=100 * MIB), 16, 1),  # never none at all
        (ContainerLimits(cpus=8.0), 2, 2),  # a quota beyond the CPUs it may run on
    ],
)
def test_slots_follow_the_cgroup_not_the_node(
    limits: ContainerLimits, cpus: int, slots: int
) -> None:
    assert hash_slots(65_536, limits, cpus) == slots


def test_the_settings_override_the_sizing() -> None:
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=3, queue=5)
    assert (passwords.concurrency, passwords.queue) == (3, 5)
    assert Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=2).queue == 4


async def test_beyond_the_queue_a_hash_is_refused_at_once_with_retry_after() -> None:
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1, queue=1)
    release = threading.Event()

    def held() -> str:
        release.wait(10)
        return "done"

    running = asyncio.create_task(passwords._run(held))
    queued = asyncio.create_task(passwords._run(held))
    for _ in range(100):  # until the second is in the queue
        if passwords._waiting:
            break
        await asyncio.sleep(0)
    with pytest.raises(HashingBusy) as busy:
        await passwords.hash("Corr3ct-horse")
    assert busy.value.status == 503
    assert busy.value.headers["Retry-After"] == "1"
    release.set()
    assert await running == "done" and await queued == "done"
    assert await passwords.verify(await passwords.hash("Corr3ct-horse"), "Corr3ct-horse")


async def test_a_caller_that_gives_up_does_not_free_the_slot_before_its_hash_ends() -> None:
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1, queue=0)
    release = threading.Event()
    started = threading.Event()

    def held() -> str:
        started.set()
        release.wait(10)
        return "done"

    caller = asyncio.create_task(passwords._run(held))
    await asyncio.to_thread(started.wait, 10)
    caller.cancel()  # the client went away; the thread still hashes
    with pytest.raises(asyncio.CancelledError):
        await caller
    with pytest.raises(HashingBusy):
        await passwords.hash("Corr3ct-horse")
    release.set()
    for _ in range(100):  # the slot comes back when the thread is done
        if not passwords._slots.locked():
            break
        await asyncio.sleep(0.01)
    assert await passwords.hash("Corr3ct-horse")
