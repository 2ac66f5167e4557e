"""Unit tests of idempotency keys: the header's rule, request fingerprints, the decision.

The fingerprints are compared with digests computed here from the bytes that orders
and payments stored before the chassis held this code: a key used before an upgrade
must still be recognised as the same request after it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from mercato.chassis.web.errors import BadRequest, Conflict, Unprocessable, install_error_handlers
from mercato.chassis.web.idempotency import (
    IDEMPOTENCY_KEY,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    IdempotencyKey,
    check_key,
    check_replay,
    fingerprint,
    key_required,
)
from mercato.orders.schemas import CheckoutIn
from mercato.payments.schemas import RefundIn

BODY = {"payment_method_id": "pm_1", "shipping_address": {"city": "Berlin", "country": "DE"}}
# What orders and payments hashed: compact JSON, keys sorted, as bytes.
BODY_BYTES = b'{"payment_method_id":"pm_1","shipping_address":{"city":"Berlin","country":"DE"}}'


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- fingerprint ---------------------------------------------------------------


def test_a_fingerprint_is_the_digest_stored_before() -> None:
    assert fingerprint(BODY) == sha256(BODY_BYTES)


def test_the_key_order_does_not_matter_at_any_depth() -> None:
    reordered = {
        "shipping_address": {"country": "DE", "city": "Berlin"},
        "payment_method_id": "pm_1",
    }
    assert fingerprint(reordered) == fingerprint(BODY)


@pytest.mark.parametrize(
    "other",
    [
        {**BODY, "payment_method_id": "pm_2"},
        {**BODY, "shipping_address": {"city": "Bonn", "country": "DE"}},
        {**BODY, "shipping_address": {"city": "Berlin", "country": "DE", "line2": None}},
        {"payment_method_id": "pm_1"},
        {**BODY, "payment_method_id": ["pm_1"]},
    ],
)
def test_other_bodies_have_other_fingerprints(other: dict[str, Any]) -> None:
    assert fingerprint(other) != fingerprint(BODY)


CHECKOUTS = [
    '{"payment_method_id":"pm_1","shipping_address":'
    '{"name":"Ann","line1":"Main St 1","city":"Berlin","country":"DE"}}',
    # other whitespace, other key order, an optional field sent as null, padded strings
    """{
        "shipping_address": {
            "country": "DE", "city": " Berlin ", "line1": "Main St 1",
            "name": "Ann", "line2": null
        },
        "payment_method_id":   "pm_1"
    }""",
]


def test_the_same_checkout_however_it_is_written() -> None:
    """A checkout body is the same request whatever its whitespace, key order or nulls."""
    digests = {
        fingerprint(CheckoutIn.model_validate_json(raw).model_dump(mode="json"))
        for raw in CHECKOUTS
    }
    assert len(digests) == 1
    moved = CHECKOUTS[0].replace("Berlin", "Bonn")
    assert fingerprint(CheckoutIn.model_validate_json(moved).model_dump(mode="json")) not in digests


def test_the_scope_is_part_of_the_request_as_payments_stored_it() -> None:
    """A refund is of a payment: the same body for another payment is another request."""
    body = RefundIn.model_validate_json('{"reason": "broken"}').model_dump(mode="json")
    assert body == RefundIn.model_validate_json(
        '{ "amount" : null, "reason" : "broken" }'
    ).model_dump(mode="json")
    digest = fingerprint(body, payment_id="pay-1")
    assert digest == sha256(b'{"amount":null,"payment_id":"pay-1","reason":"broken"}')
    assert fingerprint(body, payment_id="pay-2") != digest
    assert fingerprint(body) != digest


def test_a_scope_cannot_hide_a_field_of_the_body() -> None:
    with pytest.raises(ValueError, match="payment_id"):
        fingerprint({"payment_id": "a", "reason": "r"}, payment_id="b")


# -- the key -------------------------------------------------------------------


def test_a_key_is_stripped() -> None:
    assert check_key("  abc-123 ") == "abc-123"
    assert check_key("order 7:charge") == "order 7:charge"
    assert check_key("k" * MAX_KEY_LENGTH) == "k" * MAX_KEY_LENGTH


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_a_missing_key_is_400(missing: str | None) -> None:
    with pytest.raises(BadRequest, match="needs an Idempotency-Key header"):
        check_key(missing)


@pytest.mark.parametrize(
    "bad", ["k" * (MAX_KEY_LENGTH + 1), "a\nb", "a\tb", "a\x00b", "a\x7fb", "a\x85b", "a\xa0b"]
)
def test_a_key_too_long_or_not_printable_is_400(bad: str) -> None:
    with pytest.raises(BadRequest, match=f"1 to {MAX_KEY_LENGTH} printable characters"):
        check_key(bad)


def test_the_characters_are_those_orders_took() -> None:
    """Each character a header can carry (Latin-1) is taken iff it is printable."""
    for code in range(256):
        char = chr(code)
        if char.isprintable():
            assert check_key(f"k{char}k") == f"k{char}k", code
        else:
            with pytest.raises(BadRequest):
                check_key(f"k{char}k")


# -- the decision --------------------------------------------------------------


def test_the_same_request_is_answered_again() -> None:
    check_replay(stored=fingerprint(BODY), digest=fingerprint(dict(reversed(BODY.items()))))


@pytest.mark.parametrize("running", [False, True])
def test_another_request_under_the_key_is_422(running: bool) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_replay(stored=fingerprint(BODY), digest=fingerprint({}), running=running)
    assert refused.value.status == 422
    assert refused.value.errors == [
        {
            "field": "Idempotency-Key",
            "in": "header",
            "message": "already used with a different request body",
            "type": "idempotency_mismatch",
        }
    ]


def test_the_same_request_still_running_is_409() -> None:
    with pytest.raises(Conflict) as busy:
        check_replay(stored=fingerprint(BODY), digest=fingerprint(BODY), running=True)
    assert busy.value.status == 409
    assert busy.value.headers == {"Retry-After": "1"}


# -- the dependency and its document -------------------------------------------


def keyed_app() -> FastAPI:
    router = APIRouter()

    @router.post("/things", openapi_extra=key_required("One thing per key."))
    async def make_thing(key: IdempotencyKey) -> dict[str, str]:
        return {"key": key}

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    return app


async def post(key: bytes | None) -> httpx.Response:
    """POST /things with the key's bytes as sent (a header's text is Latin-1)."""
    headers = {} if key is None else {IDEMPOTENCY_KEY.encode(): key}
    transport = httpx.ASGITransport(app=keyed_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/things", headers=headers)


async def test_the_dependency_reads_the_header() -> None:
    response = await post(b" order-1:charge ")
    assert response.status_code == 200
    assert response.json() == {"key": "order-1:charge"}
    latin = await post("bestellung-müller".encode("latin-1"))
    assert latin.json() == {"key": "bestellung-müller"}


@pytest.mark.parametrize("key", [None, b"k" * (MAX_KEY_LENGTH + 1), b"a\x85b"])
async def test_the_dependency_refuses_a_missing_or_bad_key_as_a_problem(key: bytes | None) -> None:
    response = await post(key)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/bad-request")


def test_the_document_states_the_rule_once() -> None:
    document = keyed_app().openapi()
    parameters = document["paths"]["/things"]["post"]["parameters"]
    assert parameters == [
        {
            "name": IDEMPOTENCY_KEY,
            "in": "header",
            "required": True,
            "description": "One thing per key.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
                "pattern": KEY_PATTERN,
            },
        }
    ]
