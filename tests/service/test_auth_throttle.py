"""Service tests of auth's throttling of failed credentials, and whose address counts.

The app runs in-process, so every request's peer is 127.0.0.1; a request carries
another client address the way the gateway sends it: `X-Forwarded-For` with the
gateway's service token in `X-Mercato-Proxy-Token` (obtained from auth's own token
endpoint with the gateway's client credentials).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mercato.chassis.security.client_addresses import PROXY_TOKEN_HEADER
from tests.support.apps import running
from tests.support.auth import (
    API,
    auth_app,
    login,
    problem,
    register,
    tokens_for,
)

WRONG = "Wr0ng-password"
GATEWAY_SECRET = "gateway-secret-of-the-test"
USERS_SECRET = "users-secret-of-the-test"
CLIENTS = f"gateway:{GATEWAY_SECRET},users:{USERS_SECRET},catalog:catalog-secret-of-test"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return auth_app(
        tmp_path,
        clients=CLIENTS,
        login_max_failures_per_account_source=3,
        login_max_failures_per_source=5,
        login_max_failures_per_account=8,
        login_account_slowdown_seconds=30,
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        await register(client)
        yield client


async def service_token(
    client: httpx.AsyncClient, client_id: str, secret: str, audience: str = "auth"
) -> str:
    response = await client_credentials(client, client_id, secret, audience)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def client_credentials(
    client: httpx.AsyncClient, client_id: str, secret: str, audience: str = "auth"
) -> httpx.Response:
    body = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": audience,
    }
    return await client.post(f"{API}/token", json=body)


@pytest.fixture
async def via_gateway(client: httpx.AsyncClient) -> dict[str, str]:
    """The headers the gateway adds to prove its X-Forwarded-For (the address left out)."""
    return {PROXY_TOKEN_HEADER: await service_token(client, "gateway", GATEWAY_SECRET)}


def source(address: str, proof: dict[str, str]) -> dict[str, str]:
    return {"X-Forwarded-For": address, **proof}


def set_clock(app: FastAPI, seconds_from_now: float) -> None:
    later = time.time() + seconds_from_now
    app.state.runtime.context.clock = lambda: later


async def test_an_attacker_slows_only_their_own_address(
    client: httpx.AsyncClient, via_gateway: dict[str, str]
) -> None:
    attacker = source("203.0.113.7", via_gateway)
    for _ in range(3):
        problem(await login(client, password=WRONG, **attacker), 401)
    refused = await login(client, **attacker)  # even the right password, from there
    body = problem(refused, 429)
    assert 0 < int(refused.headers["retry-after"]) <= 300
    assert "try again" in body["detail"]
    # The owner, from their own address, is not locked out (it was, before).
    owner = source("198.51.100.1", via_gateway)
    assert (await login(client, **owner)).status_code == 200
    assert (await login(client)).status_code == 200  # and straight from 127.0.0.1


async def test_success_resets_the_count_of_that_address(
    client: httpx.AsyncClient, via_gateway: dict[str, str]
) -> None:
    owner = source("198.51.100.1", via_gateway)
    for _ in range(2):
        for _ in range(2):
            problem(await login(client, password=WRONG, **owner), 401)
        assert (await login(client, **owner)).status_code == 200


async def test_an_address_is_throttled_across_accounts(
    client: httpx.AsyncClient, via_gateway: dict[str, str]
) -> None:
    sprayer = source("203.0.113.7", via_gateway)
    for i in range(5):
        problem(await login(client, email=f"u{i}@example.com", **sprayer), 401)
    blocked = await login(client, **sprayer)
    problem(blocked, 429)
    assert int(blocked.headers["retry-after"]) > 0
    assert (await login(client, **source("198.51.100.1", via_gateway))).status_code == 200


async def test_the_throttle_window_ends(
    app: FastAPI, client: httpx.AsyncClient, via_gateway: dict[str, str]
) -> None:
    attacker = source("203.0.113.7", via_gateway)
    for _ in range(3):
        problem(await login(client, password=WRONG, **attacker), 401)
    blocked = await login(client, **attacker)
    problem(blocked, 429)
    set_clock(app, int(blocked.headers["retry-after"]) + 1)
    assert (await login(client, **attacker)).status_code == 200


async def test_guessing_from_many_addresses_slows_the_account_but_never_locks_it(
    app: FastAPI, client: httpx.AsyncClient, via_gateway: dict[str, str]
) -> None:
    for i in range(8):  # the per-account bound, one failure from each address
        problem(await login(client, password=WRONG, **source(f"192.0.2.{i}", via_gateway)), 401)
    # Past it, one attempt on the account per 30 s, from anywhere: this one takes the slot,
    problem(await login(client, password=WRONG, **source("192.0.2.100", via_gateway)), 401)
    # the next, at once, is told when to come back,
    owner = source("198.51.100.1", via_gateway)
    slowed = await login(client, **owner)
    body = problem(slowed, 429)
    assert "slowed" in body["detail"]
    assert 0 < int(slowed.headers["retry-after"]) <= 30
    # and coming back then, the owner is in: slowed, not locked for the window.
    set_clock(app, 31)
    assert (await login(client, **owner)).status_code == 200
    # Other accounts are not slowed.
    await register(client, email="bob@example.com")
    bob = await tokens_for(client, "bob@example.com")
    assert bob["access_token"]


async def test_forwarded_for_without_the_gateways_proof_counts_against_the_peer(
    client: httpx.AsyncClient,
) -> None:
    """A request straight to auth with a made-up X-Forwarded-For is counted as its peer's."""
    user_token = (await tokens_for(client))["access_token"]
    users_token = await service_token(client, "users", USERS_SECRET)
    gateway_for_users = await service_token(client, "gateway", GATEWAY_SECRET, audience="users")
    forged_proofs = [
        {},
        {PROXY_TOKEN_HEADER: "not-a-token"},
        {PROXY_TOKEN_HEADER: user_token},  # a customer's token
        {PROXY_TOKEN_HEADER: users_token},  # another service's token for auth
        {PROXY_TOKEN_HEADER: gateway_for_users},  # the gateway's, for another service
    ]
    for i, proof in enumerate(forged_proofs):  # five accounts, five made-up addresses
        spoofed = source(f"198.51.100.{i}", proof)
        problem(await login(client, email=f"u{i}@example.com", **spoofed), 401)
    # Each counted against 127.0.0.1, whose limit (5) is now reached.
    blocked = await login(client, **source("198.51.100.77", {}))
    problem(blocked, 429)


async def test_client_credentials_failures_are_throttled_per_client_and_address(
    client: httpx.AsyncClient, via_gateway: dict[str, str]
) -> None:
    for _ in range(3):
        problem(await client_credentials(client, "users", "a-wrong-guess-at-it"), 401)
    throttled = await client_credentials(client, "users", USERS_SECRET)
    problem(throttled, 429)
    assert int(throttled.headers["retry-after"]) > 0
    # Another client id from the same address is not held up, nor are logins.
    assert (
        await client_credentials(client, "catalog", "catalog-secret-of-test")
    ).status_code == 200
    assert (await login(client)).status_code == 200
