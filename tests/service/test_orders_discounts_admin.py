"""Service tests of the admin's discount codes: create, list (paged), read, change, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.discounts import DISCOUNTS, new_code, new_discount
from tests.support.orders import Shop, open_shop
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """Catalog and payments servers, and the orders app in-process."""
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


def fields_named(problem: dict[str, object]) -> list[str]:
    """The fields a validation problem names."""
    errors = problem["errors"]
    assert isinstance(errors, list)
    return [str(error["field"]) for error in errors]


async def test_create_read_and_deactivate(shop: Shop) -> None:
    code = new_code()
    body = {
        "code": code,
        "kind": "fixed",
        "value": 500,
        "currency": "USD",
        "min_order": 2000,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00+00:00",
        "max_uses": 10,
        "max_uses_per_customer": 1,
        "categories": ["tea", "green-tea"],
    }
    response = await shop.orders.post(DISCOUNTS, json=body, headers=shop.admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["code"] == code.upper()
    assert created["uses"] == 0 and created["active"] is True
    assert created["categories"] == ["tea", "green-tea"]
    assert created["min_order"] == 2000 and created["max_uses_per_customer"] == 1

    read = await shop.orders.get(f"{DISCOUNTS}/{created['id']}", headers=shop.admin)
    assert read.status_code == 200
    assert read.json() == created

    changed = await shop.orders.patch(
        f"{DISCOUNTS}/{created['id']}", json={"active": False, "max_uses": 20}, headers=shop.admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False and changed.json()["max_uses"] == 20
    assert changed.json()["value"] == 500


async def test_codes_are_unique_whatever_their_case(shop: Shop) -> None:
    created = await new_discount(shop)
    again = {"code": created["code"].lower(), "kind": "percent", "value": 5}
    response = await shop.orders.post(DISCOUNTS, json=again, headers=shop.admin)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_list_is_newest_first_and_cursor_paged(shop: Shop) -> None:
    made = [(await new_discount(shop))["id"] for _ in range(3)]
    first = (await shop.orders.get(f"{DISCOUNTS}?limit=2", headers=shop.admin)).json()
    assert [item["id"] for item in first["items"]] == made[::-1][:2]
    assert first["next_cursor"]
    second = await shop.orders.get(
        f"{DISCOUNTS}?limit=2&cursor={first['next_cursor']}", headers=shop.admin
    )
    assert second.status_code == 200
    assert [item["id"] for item in second.json()["items"]] == [made[0]]
    assert second.json()["next_cursor"] is None
    bad = await shop.orders.get(f"{DISCOUNTS}?cursor=not-a-cursor", headers=shop.admin)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "percent", "value": 101}, "value"),
        ({"kind": "fixed", "value": 500}, "currency"),
        ({"kind": "percent", "value": 10, "min_order": 100}, "currency"),
        (
            {
                "kind": "percent",
                "value": 10,
                "starts_at": "2030-01-02T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
            },
            "ends_at",
        ),
    ],
)
async def test_fields_that_do_not_fit_together_are_422(
    shop: Shop, fields: dict[str, object], named: str
) -> None:
    body = {"code": new_code(), **fields}
    response = await shop.orders.post(DISCOUNTS, json=body, headers=shop.admin)
    assert response.status_code == 422, response.text
    assert named in fields_named(response.json())


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x", "kind": "percent", "value": 10},  # too short
        {"code": "no spaces", "kind": "percent", "value": 10},
        {"code": "GOOD1", "kind": "half", "value": 10},
        {"code": "GOOD1", "kind": "percent", "value": 0},
        {"code": "GOOD1", "kind": "percent", "value": 1.5},
        {"code": "GOOD1", "kind": "percent", "value": 10, "ends_at": "2030-01-01T00:00:00"},
        {"code": "GOOD1", "kind": "percent", "value": 10, "categories": ["Not A Slug"]},
        {"code": "GOOD1", "kind": "percent", "value": 10, "extra": 1},
    ],
)
async def test_invalid_bodies_are_422(shop: Shop, body: dict[str, object]) -> None:
    response = await shop.orders.post(DISCOUNTS, json=body, headers=shop.admin)
    assert response.status_code == 422, response.text


async def test_a_change_that_breaks_the_rule_is_422(shop: Shop) -> None:
    created = await new_discount(shop)
    url = f"{DISCOUNTS}/{created['id']}"
    response = await shop.orders.patch(url, json={"value": 150}, headers=shop.admin)
    assert response.status_code == 422
    assert "value" in fields_named(response.json())
    response = await shop.orders.patch(url, json={"active": None}, headers=shop.admin)
    assert response.status_code == 422
    assert (await shop.orders.get(url, headers=shop.admin)).json()["value"] == 10


async def test_customers_are_refused_and_strangers_unauthorised(shop: Shop) -> None:
    created = await new_discount(shop)
    customer = shop.customer()
    url = f"{DISCOUNTS}/{created['id']}"
    body = {"code": new_code(), "kind": "percent", "value": 10}
    assert (await shop.orders.post(DISCOUNTS, json=body, headers=customer)).status_code == 403
    assert (await shop.orders.get(DISCOUNTS, headers=customer)).status_code == 403
    assert (await shop.orders.get(url, headers=customer)).status_code == 403
    patched = await shop.orders.patch(url, json={"active": False}, headers=customer)
    assert patched.status_code == 403
    assert (await shop.orders.get(url, headers=shop.admin)).json()["active"] is True
    for response in (
        await shop.orders.post(DISCOUNTS, json=body),
        await shop.orders.get(DISCOUNTS),
        await shop.orders.get(url),
        await shop.orders.patch(url, json={"active": False}),
    ):
        assert response.status_code == 401


async def test_unknown_discount_is_404(shop: Shop) -> None:
    url = f"{DISCOUNTS}/00000000-0000-0000-0000-000000000000"
    assert (await shop.orders.get(url, headers=shop.admin)).status_code == 404
    patched = await shop.orders.patch(url, json={"active": False}, headers=shop.admin)
    assert patched.status_code == 404


async def test_bodies_must_be_json(shop: Shop) -> None:
    headers = {**shop.admin, "content-type": "text/plain"}
    response = await shop.orders.post(DISCOUNTS, content=b"code=X", headers=headers)
    assert response.status_code == 415
    broken = {**shop.admin, "content-type": "application/json"}
    response = await shop.orders.post(DISCOUNTS, content=b"{not json", headers=broken)
    assert response.status_code == 400
