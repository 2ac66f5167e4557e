"""Password policy and argon2id hashing off the event loop.

The policy is deliberately small and explainable: at least `MIN_LENGTH` characters,
at least two character classes and a few distinct characters, not one of the most
common passwords, and not containing the account's email local part. Each rule that
fails gives one message, so the 422 names `password` and says why.

Hashing uses argon2-cffi's `PasswordHasher` (argon2id; its defaults are RFC 9106's
low-memory recommendation). A hash costs a quarter of a second of CPU and 64 MiB, so
it runs in a worker thread (the C code releases the GIL), a bounded number at a time:
`hash_slots` sizes that from the CPUs and the memory the container may use (the
cgroup's limits, `chassis.container_limits`; `os.cpu_count()` is the node's), so a
login burst can neither starve the event loop nor take the process past its memory
limit. At most `queue` more wait for a slot; beyond that a hash is refused at once
(`HashingBusy`, a 503 with Retry-After), so that a flood of logins is answered
quickly instead of making every login, the owner's too, wait behind it.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import string
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mercato.chassis.container_limits import ContainerLimits, available_cpus, read_limits
from mercato.chassis.web.errors import ServiceUnavailable

__all__ = [
    "MIN_LENGTH",
    "HashingBusy",
    "Passwords",
    "WeakPassword",
    "check_password",
    "hash_slots",
    "password_problems",
    "random_password",
]

T = TypeVar("T")
MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_DISTINCT = 5
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "0987654321",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "abc1234567",
        "abcd123456",
        "admin12345",
        "administrator",
        "changeme123",
        "football123",
        "iloveyou12",
        "iloveyou123",
        "letmein123",
        "monkey1234",
        "passw0rd12",
        "password01",
        "password1!",
        "password12",
        "password123",
        "password1234",
        "password!23",
        "p@ssw0rd12",
        "p@ssword123",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "qwertyuiop",
        "qwertyuiop1",
        "sunshine123",
        "trustno1234",
        "welcome123",
        "welcome1234",
        "zaq12wsxcde",
    }
)


class WeakPassword(ValueError):
    """A password breaks the policy; `problems` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("password " + "; ".join(problems))
        self.problems = problems


def _classes(password: str) -> int:
    kinds = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(kinds)


def password_problems(password: str, *, email: str = "") -> list[str]:
    """Why `password` is too weak for the account `email` (empty when it is fine)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if _classes(password) < 2:
        problems.append("must mix at least two of: lower case, upper case, digits, symbols")
    if len(set(password)) < MIN_DISTINCT:
        problems.append(f"must contain at least {MIN_DISTINCT} different characters")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("is one of the most common passwords")
    local = email.partition("@")[0].lower()
    if len(local) >= 3 and local in password.lower():
        problems.append("must not contain the email address")
    return problems


def check_password(password: str, *, email: str = "") -> None:
    """Raise WeakPassword when `password` breaks the policy."""
    problems = password_problems(password, email=email)
    if problems:
        raise WeakPassword(problems)


def random_password(length: int = 20) -> str:
    """A random password that satisfies the policy."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not password_problems(candidate) and _classes(candidate) >= 3:
            return candidate


# The share of the container's memory that hashes in flight may take; the rest is the
# process itself (~120 MiB) and what the kernel needs.
MEMORY_SHARE = 0.5
RETRY_AFTER_SECONDS = 1


def hash_slots(memory_kib: int, limits: ContainerLimits, cpus: int) -> int:
    """How many hashes may run at once: one per CPU, within a share of the memory limit."""
    slots = cpus if limits.cpus is None else min(cpus, max(1, math.ceil(limits.cpus)))
    if limits.memory_bytes is not None:
        by_memory = int(limits.memory_bytes * MEMORY_SHARE) // (memory_kib * 1024)
        slots = min(slots, max(1, by_memory))
    return max(1, slots)


class HashingBusy(ServiceUnavailable):
    """Every hashing slot is taken and the queue is full: come back a little later."""

    def __init__(self) -> None:
        super().__init__(
            "Too many logins are being checked right now; try again in a moment.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


class Passwords:
    """argon2id hashing and verification in worker threads, a few at a time."""

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_kib: int = 65_536,
        parallelism: int = 4,
        concurrency: int | None = None,
        queue: int | None = None,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self.concurrency = concurrency or hash_slots(memory_kib, read_limits(), available_cpus())
        self.queue = 2 * self.concurrency if queue is None else queue
        self._slots = asyncio.Semaphore(self.concurrency)
        self._waiting = 0
        self._dummy: str | None = None

    async def _acquire(self) -> None:
        """Take a hashing slot, waiting in a bounded queue; HashingBusy when it is full."""
        if not self._slots.locked():
            await self._slots.acquire()
            return
        if self._waiting >= self.queue:
            raise HashingBusy()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        """`work(*args)` in a worker thread, holding a slot until the thread is done.

        The slot is released when the thread finishes, not when the caller stops
        waiting: a client that disconnects cannot free a slot while its hash still
        takes a CPU and 64 MiB.
        """
        await self._acquire()
        running = asyncio.ensure_future(asyncio.to_thread(work, *args))
        running.add_done_callback(lambda _: self._slots.release())
        return await asyncio.shield(running)

    async def hash(self, password: str) -> str:
        """The argon2id hash of `password`."""
        return await self._run(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches `password_hash`."""
        return await self._run(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verification, for an account that does not exist."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether `password_hash` was made with other parameters than the current ones."""
        try:
            return bool(self.hasher.check_needs_rehash(password_hash))
        except InvalidHashError:
            return True
