"""Unit tests of `web.sealing`: a session's tokens open only with its own cookie and row."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.web.sealing import PREFIX, Seal, Unsealable
from mercato.web.sessions import hash_id, seal_of

COOKIE = secrets.token_urlsafe(32)


@given(st.text(max_size=2000))
def test_a_sealed_token_opens_to_itself(token: str) -> None:
    seal = seal_of(COOKIE)
    sealed = seal.close(token)
    assert sealed.startswith(PREFIX)
    assert len(token) < 8 or token not in sealed  # short ones can turn up by chance
    assert seal.open(sealed) == token


def test_sealing_twice_gives_two_values() -> None:
    seal = seal_of(COOKIE)
    assert seal.close("refresh-1") != seal.close("refresh-1")  # a fresh nonce each time


def test_another_cookie_does_not_open_it() -> None:
    sealed = seal_of(COOKIE).close("refresh-1")
    with pytest.raises(Unsealable):
        seal_of(secrets.token_urlsafe(32)).open(sealed)


def test_the_same_cookie_on_another_row_does_not_open_it() -> None:
    sealed = seal_of(COOKIE).close("refresh-1")
    with pytest.raises(Unsealable):
        Seal(COOKIE, hash_id("another session")).open(sealed)


@pytest.mark.parametrize(
    "stored",
    [
        "refresh-1",  # a row written before tokens were sealed
        PREFIX,
        PREFIX + "not base64!",
        PREFIX + "AAAA",  # shorter than a nonce
    ],
)
def test_anything_else_is_refused(stored: str) -> None:
    with pytest.raises(Unsealable):
        seal_of(COOKIE).open(stored)


def test_a_changed_byte_is_refused() -> None:
    sealed = seal_of(COOKIE).close("refresh-1")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(Unsealable):
        seal_of(COOKIE).open(flipped)
