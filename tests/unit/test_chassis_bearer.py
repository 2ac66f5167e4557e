"""The one parser of `Authorization: Bearer` (chassis.security.tokens.bearer_token), by a table."""

from __future__ import annotations

import pytest

from mercato.chassis.security.tokens import bearer_token
from mercato.chassis.web.errors import Unauthorized

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_~+/=="


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}",
        f"bearer {TOKEN}",  # RFC 9110: the scheme is case-insensitive
        f"BEARER {TOKEN}",
        f"BeArEr {TOKEN}",
        f"Bearer  {TOKEN}",  # 1*SP
        f"Bearer {TOKEN} ",  # trailing space (what a parser leaves of OWS)
        f" Bearer {TOKEN}",
    ],
)
def test_accepted(header: str) -> None:
    assert bearer_token(header) == TOKEN


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        f"Bearer\t{TOKEN}",  # only spaces separate the scheme
        f"Bearer{TOKEN}",
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        f"Bearer {TOKEN} {TOKEN}",  # two tokens
        f"Bearer {TOKEN}, Bearer {TOKEN}",  # a list
        "Bearer a b",
        "Bearer =abc",  # padding only at the end
        "Bearer abc=d",
        "Bearer ab\x00c",
        "Bearer ab\rc",
        'Bearer ab"c',
        "Bearer ab;c",
        "Bearer é",
    ],
)
def test_refused(header: str | None) -> None:
    with pytest.raises(Unauthorized) as refused:
        bearer_token(header)
    assert refused.value.headers["WWW-Authenticate"] == "Bearer"
