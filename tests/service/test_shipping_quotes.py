"""Service tests of shipping's quotes and the admin's methods and rates, on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.contracts.shipping import QuoteList
from tests.support.auth import fields, problem
from tests.support.shipping import API, shipping_app
from tests.support.tokens import TokenFactory

QUOTES = f"{API}/quotes"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The shipping service with its seeded methods and rates."""
    return shipping_app(tmp_path)


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers("root", ["admin"])


async def quotes(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(QUOTES, params=params)
    assert response.status_code == 200, response.text
    QuoteList.model_validate(response.json())
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_seeded_quotes_are_cheapest_first_and_anonymous(client: httpx.AsyncClient) -> None:
    found = await quotes(client, country="US", currency="USD", weight_grams=1200, subtotal=1000)
    assert [(q["method"], q["price"]) for q in found] == [
        ("standard", {"amount": 499, "currency": "USD"}),
        ("express", {"amount": 1499, "currency": "USD"}),
    ]
    assert found[0]["min_days"] <= found[0]["max_days"]


async def test_free_over_and_weight_bands(client: httpx.AsyncClient) -> None:
    free = await quotes(client, country="US", currency="USD", weight_grams=1200, subtotal=5000)
    assert free[0] == {**free[0], "method": "standard", "price": {"amount": 0, "currency": "USD"}}
    heavy = await quotes(client, country="DE", currency="USD", weight_grams=12_000)
    assert [(q["method"], q["price"]["amount"]) for q in heavy] == [("standard", 2999)]


async def test_rest_of_world_other_currency_and_nowhere(client: httpx.AsyncClient) -> None:
    world = await quotes(client, country="JP", currency="USD", weight_grams=100)
    assert [q["price"]["amount"] for q in world] == [1999, 4999]
    euro = await quotes(client, country="FR", currency="EUR", weight_grams=100)
    assert euro[0]["price"] == {"amount": 499, "currency": "EUR"}
    assert await quotes(client, country="JP", currency="EUR", weight_grams=100) == []
    assert await quotes(client, country="US", currency="USD", weight_grams=30_001) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"currency": "USD", "weight_grams": 1}, "country"),
        ({"country": "us", "currency": "USD", "weight_grams": 1}, "country"),
        ({"country": "US", "currency": "dollars", "weight_grams": 1}, "currency"),
        ({"country": "US", "currency": "USD", "weight_grams": -1}, "weight_grams"),
        ({"country": "US", "currency": "USD", "weight_grams": 1_000_001}, "weight_grams"),
        ({"country": "US", "currency": "USD", "weight_grams": "heavy"}, "weight_grams"),
        ({"country": "US", "currency": "USD", "weight_grams": 1, "subtotal": -5}, "subtotal"),
    ],
)
async def test_bad_query_is_422(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = problem(await client.get(QUOTES, params=params), 422)
    assert any(f.endswith(field) for f in fields(body)), body


async def test_admin_adds_a_method_and_rate_and_it_is_quoted(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    method = {"code": "pickup", "name": "Pick-up point", "min_days": 2, "max_days": 4}
    created = await client.post(f"{API}/methods", json=method, headers=admin(tokens))
    assert created.status_code == 201, created.text
    assert created.json()["active"] is True
    problem(await client.post(f"{API}/methods", json=method, headers=admin(tokens)), 409)
    rate = {
        "method": "pickup",
        "countries": ["US"],
        "currency": "USD",
        "max_weight_grams": 10_000,
        "price": 299,
    }
    added = await client.post(f"{API}/rates", json=rate, headers=admin(tokens))
    assert added.status_code == 201, added.text
    found = await quotes(client, country="US", currency="USD", weight_grams=500)
    assert [q["method"] for q in found] == ["pickup", "standard", "express"]
    rate_id = added.json()["id"]
    changed = await client.patch(
        f"{API}/rates/{rate_id}", json={"price": 9999, "free_over": 100}, headers=admin(tokens)
    )
    assert changed.json()["free_over"] == 100
    found = await quotes(client, country="US", currency="USD", weight_grams=500, subtotal=100)
    assert found[0] == {**found[0], "method": "pickup", "price": {"amount": 0, "currency": "USD"}}
    off = await client.patch(f"{API}/methods/pickup", json={"active": False}, headers=admin(tokens))
    assert off.json()["active"] is False
    found = await quotes(client, country="US", currency="USD", weight_grams=500)
    assert "pickup" not in [q["method"] for q in found]
    gone = await client.delete(f"{API}/rates/{rate_id}", headers=admin(tokens))
    assert gone.status_code == 204
    problem(await client.delete(f"{API}/rates/{rate_id}", headers=admin(tokens)), 404)
    listed = await client.get(f"{API}/rates", params={"method": "pickup"}, headers=admin(tokens))
    assert listed.json()["items"] == []


async def test_admin_refusals(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    headers = admin(tokens)
    bad_days = {"code": "slow", "name": "Slow", "min_days": 9, "max_days": 2}
    problem(await client.post(f"{API}/methods", json=bad_days, headers=headers), 422)
    bad_code = {"code": "Not A Code", "name": "x", "min_days": 1, "max_days": 2}
    assert "code" in fields(
        problem(await client.post(f"{API}/methods", json=bad_code, headers=headers), 422)
    )
    crossing = await client.patch(f"{API}/methods/express", json={"min_days": 5}, headers=headers)
    problem(crossing, 422)
    problem(await client.patch(f"{API}/methods/nope", json={"name": "x"}, headers=headers), 404)
    rate: dict[str, Any] = {
        "method": "nope",
        "countries": ["US"],
        "currency": "USD",
        "max_weight_grams": 1,
        "price": 1,
    }
    assert "method" in fields(
        problem(await client.post(f"{API}/rates", json=rate, headers=headers), 422)
    )
    broken_rates: list[dict[str, Any]] = [
        {"countries": ["*", "US"]},
        {"countries": ["US", "US"]},
        {"countries": []},
        {"price": -1},
        {"price": 1.5},
        {"currency": "usd"},
        {"max_weight_grams": 0},
    ]
    for broken in broken_rates:
        body = {**rate, "method": "standard", **broken}
        problem(await client.post(f"{API}/rates", json=body, headers=headers), 422)
    problem(
        await client.patch(f"{API}/rates/seed-std-us-5", json={"price": None}, headers=headers),
        422,
    )
    problem(await client.patch(f"{API}/rates/nope", json={"price": 1}, headers=headers), 404)
    problem(
        await client.post(
            f"{API}/rates", content=b"{", headers={**headers, "content-type": "application/json"}
        ),
        400,
    )


async def test_methods_and_rates_need_an_admin(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    problem(await client.get(f"{API}/methods"), 401)
    problem(await client.get(f"{API}/rates", headers={"Authorization": "Bearer nonsense"}), 401)
    customer = tokens.headers("ann", ["customer"])
    problem(await client.get(f"{API}/methods", headers=customer), 403)
    method = {"code": "x", "name": "x", "min_days": 1, "max_days": 2}
    problem(await client.post(f"{API}/methods", json=method, headers=customer), 403)
    problem(
        await client.patch(f"{API}/rates/seed-std-us-5", json={"price": 0}, headers=customer), 403
    )
    problem(await client.delete(f"{API}/rates/seed-std-us-5", headers=customer), 403)
    listed = await client.get(f"{API}/methods", headers=admin(tokens))
    assert [m["code"] for m in listed.json()["items"]] == ["express", "standard"]
