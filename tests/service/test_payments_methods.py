"""Service tests of `/api/payments/methods`: saved cards, brand and last4 only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support.payments import (
    API,
    NEXT_YEAR,
    OK_CARD,
    TIMEOUT_CARD,
    Shop,
    card,
    started,
)
from tests.support.tokens import TokenFactory

METHODS = f"{API}/methods"


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """The payments service on SQLite in tmp_path."""
    async with started(tmp_path, tokens) as shop:
        yield shop


def error_fields(response: httpx.Response) -> list[str]:
    """The fields a problem+json validation error names."""
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


async def test_add_list_read_and_delete_a_card(shop: Shop) -> None:
    _, headers = shop.customer()
    response = await shop.client.post(METHODS, json=card(OK_CARD), headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("brand", "last4", "exp_month", "exp_year")} == {
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": NEXT_YEAR,
    }
    second = await shop.add_card(headers, "5555-5555-5555-4444")
    listed = (await shop.client.get(METHODS, headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [second, body["id"]]
    assert listed[0]["brand"] == "mastercard"
    read = await shop.client.get(f"{METHODS}/{body['id']}", headers=headers)
    assert read.status_code == 200 and read.json() == body
    deleted = await shop.client.delete(f"{METHODS}/{body['id']}", headers=headers)
    assert deleted.status_code == 204
    gone = await shop.client.get(f"{METHODS}/{body['id']}", headers=headers)
    assert gone.status_code == 404
    again = await shop.client.delete(f"{METHODS}/{body['id']}", headers=headers)
    assert again.status_code == 404


async def test_neither_number_nor_cvc_is_stored(shop: Shop) -> None:
    _, headers = shop.customer()
    await shop.add_card(headers, TIMEOUT_CARD)
    runtime = shop.app.state.runtime
    async with runtime.database.engine.connect() as connection:
        tables = (
            await connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        ).scalars()
        dump = ""
        for table in tables:
            rows = await connection.execute(text(f'SELECT * FROM "{table}"'))
            dump += repr(rows.all())
    assert "4000000000000119" not in dump and "0119" in dump
    assert "'123'" not in dump


async def test_another_users_card_is_not_found(shop: Shop) -> None:
    _, owner = shop.customer()
    method_id = await shop.add_card(owner)
    _, other = shop.customer()
    assert (await shop.client.get(f"{METHODS}/{method_id}", headers=other)).status_code == 404
    assert (await shop.client.delete(f"{METHODS}/{method_id}", headers=other)).status_code == 404
    assert (await shop.client.get(METHODS, headers=other)).json()["items"] == []
    assert (await shop.client.get(f"{METHODS}/{method_id}", headers=owner)).status_code == 200
    admin_read = await shop.client.get(f"{METHODS}/{method_id}", headers=shop.admin())
    assert admin_read.status_code == 200
    assert (
        await shop.client.get(f"{METHODS}/{method_id}", headers=shop.service)
    ).status_code == 200


async def test_tokens_are_required(shop: Shop) -> None:
    for response in (
        await shop.client.post(METHODS, json=card()),
        await shop.client.get(METHODS),
        await shop.client.get(f"{METHODS}/x"),
        await shop.client.delete(f"{METHODS}/x"),
        await shop.client.get(METHODS, headers={"Authorization": "Bearer nonsense"}),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_service_holds_no_cards(shop: Shop) -> None:
    response = await shop.client.post(METHODS, json=card(), headers=shop.service)
    assert response.status_code == 403


THIS_YEAR = datetime.now(UTC).year


BAD_CARDS: list[tuple[dict[str, Any], list[str]]] = [
    ({"card_number": "4242 4242 4242 4241"}, ["card_number"]),
    ({"card_number": "4242x4242x4242x4242"}, ["card_number"]),
    ({"card_number": "4242"}, ["card_number"]),
    ({"card_number": 4242424242424242}, ["card_number"]),
    ({"exp_month": 0}, ["exp_month"]),
    ({"exp_month": 13}, ["exp_month"]),
    ({"exp_month": "12"}, ["exp_month"]),
    ({"exp_year": THIS_YEAR - 1}, ["exp_year"]),
    ({"exp_year": THIS_YEAR + 40}, ["exp_year"]),
    ({"cvc": "12"}, ["cvc"]),
    ({"cvc": "12345"}, ["cvc"]),
    ({"cvc": "12a"}, ["cvc"]),
    ({"cvc": 123}, ["cvc"]),
    ({"nickname": "x"}, ["nickname"]),
    ({"card_number": "1", "cvc": ""}, ["card_number", "cvc"]),
]


async def test_bad_cards_name_the_field(shop: Shop) -> None:
    _, headers = shop.customer()
    for changes, fields in BAD_CARDS:
        response = await shop.client.post(METHODS, json=card(**changes), headers=headers)
        assert response.status_code == 422, (changes, response.text)
        assert error_fields(response) == fields, changes
    assert (await shop.client.get(METHODS, headers=headers)).json()["items"] == []


async def test_a_card_expired_last_month(shop: Shop) -> None:
    today = datetime.now(UTC).date()
    month, year = (today.month - 1, today.year) if today.month > 1 else (12, today.year - 1)
    _, headers = shop.customer()
    body = card(exp_month=month, exp_year=year)
    response = await shop.client.post(METHODS, json=body, headers=headers)
    assert response.status_code == 422 and error_fields(response) == ["exp_year"]
    this_month = card(exp_month=today.month, exp_year=today.year)
    assert (await shop.client.post(METHODS, json=this_month, headers=headers)).status_code == 201


async def test_malformed_json_is_400(shop: Shop) -> None:
    _, headers = shop.customer()
    response = await shop.client.post(
        METHODS, content=b"{", headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code == 400
