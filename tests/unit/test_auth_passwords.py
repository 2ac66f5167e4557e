"""Unit tests of auth's password policy and hashing."""

from __future__ import annotations

import pytest

from mercato.auth.passwords import (
    MIN_LENGTH,
    Passwords,
    WeakPassword,
    check_password,
    password_problems,
    random_password,
)


@pytest.mark.parametrize(
    "password",
    ["Corr3ct-horse", "correct horse battery", "tr0ub4dor&3x", "ÄÖÜäöü-1234", "Zx9!Zx8?Zx7#"],
)
def test_good_passwords_pass(password: str) -> None:
    assert password_problems(password, email="ann@example.com") == []


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", f"at least {MIN_LENGTH} characters"),
        ("onlylowercaseletters", "two of"),
        ("ONLYUPPERCASELETTERS", "two of"),
        ("12345678901234", "two of"),
        ("Aaaaaaaaaaaaa1", "different characters"),
        ("Zz9!" * 3, "different characters"),
        ("Password123", "most common"),
        ("QWERTYUIOP1", "most common"),
        ("annabelle-2024", "email"),
        ("x" * 1025 + "A1", "at most"),
    ],
)
def test_weak_passwords_say_why(password: str, reason: str) -> None:
    problems = password_problems(password, email="annabelle@example.com")
    assert any(reason in problem for problem in problems), problems


def test_a_short_email_local_part_is_not_a_rule() -> None:
    assert password_problems("Corr3ct-horse", email="co@example.com") == []


def test_check_password_raises_with_every_problem() -> None:
    with pytest.raises(WeakPassword) as caught:
        check_password("aaaa", email="")
    assert len(caught.value.problems) == 3
    assert isinstance(caught.value, ValueError)


def test_random_passwords_pass_the_policy_and_differ() -> None:
    passwords = {random_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(password_problems(p) == [] for p in passwords)


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(time_cost=1, memory_kib=64, parallelism=1)


async def test_hash_and_verify(passwords: Passwords) -> None:
    hashed = await passwords.hash("Corr3ct-horse")
    assert hashed.startswith("$argon2id$")
    assert await passwords.verify(hashed, "Corr3ct-horse")
    assert not await passwords.verify(hashed, "Corr3ct-horsE")
    assert not await passwords.verify("not a hash", "Corr3ct-horse")
    await passwords.verify_dummy("anything")


async def test_needs_rehash_when_parameters_change(passwords: Passwords) -> None:
    hashed = await passwords.hash("Corr3ct-horse")
    assert not passwords.needs_rehash(hashed)
    stronger = Passwords(time_cost=2, memory_kib=64, parallelism=1)
    assert stronger.needs_rehash(hashed)
    assert stronger.needs_rehash("garbage")


def test_production_defaults_are_rfc_9106_low_memory() -> None:
    hasher = Passwords().hasher
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65_536, 4)
