"""Unit tests of the payments service's card rules, input shapes, settings and deadline."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from mercato.chassis.config import SettingsError
from mercato.payments.cards import (
    NUMBER_PATTERN,
    brand_of,
    check_number,
    is_expired,
    luhn_valid,
    normalize_number,
)
from mercato.payments.provider import (
    Amount,
    Card,
    ChargeResult,
    ProviderClient,
    ProviderTimeout,
    RefundResult,
)
from mercato.payments.schemas import ChargeIn, MethodIn, RefundIn
from mercato.payments.settings import load_settings

NEXT_YEAR = datetime.now(UTC).year + 1


@pytest.mark.parametrize(
    "number",
    ["4242424242424242", "4000000000000002", "5555555555554444", "378282246310005", "79927398713"],
)
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "79927398710", "12a4", "", "١٢٣"])
def test_luhn_refuses_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6500000000000002", "discover"),
        ("6445644564456445", "discover"),
        ("6221260000000000", "discover"),
        ("3056930009020004", "unknown"),
        ("1234567812345670", "unknown"),
    ],
)
def test_brand_from_the_issuer_prefix(number: str, brand: str) -> None:
    assert brand_of(number) == brand


def test_normalize_allows_spaces_and_dashes() -> None:
    assert normalize_number("4242 4242-4242 4242") == "4242424242424242"
    for bad in ("4242.4242.4242.4242", "4242", "4" * 20, "\uff14" * 16):
        with pytest.raises(ValueError):
            normalize_number(bad)


def matches_documented_pattern(text: str) -> bool:
    """Whether `text` matches NUMBER_PATTERN as JSON Schema reads it (`$` ends the text)."""
    assert NUMBER_PATTERN.startswith("^") and NUMBER_PATTERN.endswith("$")
    return re.fullmatch(NUMBER_PATTERN[1:-1], text) is not None


@given(st.text(alphabet="0123456789 -x\n\uff14", max_size=30))
@example("4242 4242-4242 4242")
@example(" -4242424242424242- ")
@example("4242424242424242\n")
@example("1" * 11)
@example("1" * 12)
@example("1" * 19)
@example("1" * 20)
def test_the_documented_pattern_is_what_normalize_accepts(text: str) -> None:
    try:
        normalize_number(text)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert matches_documented_pattern(text) == accepted


def test_the_card_number_pattern_is_in_the_schema() -> None:
    card_number = MethodIn.model_json_schema()["properties"]["card_number"]
    assert card_number["pattern"] == NUMBER_PATTERN


def test_check_number() -> None:
    assert check_number("3782 822463 10005") == ("378282246310005", "amex")
    with pytest.raises(ValueError, match="checksum"):
        check_number("4242424242424241")
    with pytest.raises(ValueError, match="amex card number has 15"):
        check_number("3400000000000018")  # passes Luhn but has 16 digits


def test_expiry_runs_to_the_end_of_the_month() -> None:
    today = date(2030, 6, 15)
    assert not is_expired(6, 2030, today)
    assert not is_expired(1, 2031, today)
    assert is_expired(5, 2030, today)
    assert is_expired(12, 2029, today)


def test_method_in_validates_each_field() -> None:
    ok = MethodIn(card_number="4242-4242-4242-4242", exp_month=1, exp_year=NEXT_YEAR, cvc="0123")
    assert (ok.card_number, ok.brand) == ("4242424242424242", "visa")
    bad = {"card_number": "4242", "exp_month": 13, "exp_year": 1999, "cvc": "12"}
    with pytest.raises(ValidationError) as caught:
        MethodIn.model_validate(bad)
    fields = sorted(str(error["loc"][0]) for error in caught.value.errors())
    assert fields == ["card_number", "cvc", "exp_month", "exp_year"]
    with pytest.raises(ValidationError, match="expired"):
        MethodIn(
            card_number="4242424242424242",
            exp_month=1,
            exp_year=datetime.now(UTC).year - 1,
            cvc="123",
        )


def test_money_is_strict_positive_minor_units() -> None:
    body = {"order_id": "o", "user_id": "u", "payment_method_id": "m"}
    for amount in (
        {"amount": 0, "currency": "USD"},
        {"amount": 1.5, "currency": "USD"},
        {"amount": "100", "currency": "USD"},
        {"amount": 100, "currency": "usd"},
    ):
        with pytest.raises(ValidationError):
            ChargeIn.model_validate({**body, "amount": amount})
    assert RefundIn.model_validate({"reason": " damaged "}).reason == "damaged"


def test_lease_must_outlast_the_provider_deadline() -> None:
    assert load_settings({}).provider_timeout_seconds == 3.0
    assert load_settings({}).port == 8150
    with pytest.raises(SettingsError, match="MERCATO_PAYMENTS_CHARGE_LEASE_SECONDS"):
        load_settings({}, provider_timeout_seconds=10.0, charge_lease_seconds=5.0)


class SlowProvider:
    """A provider that takes `delay` seconds for everything."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def tokenize(self, card: Card) -> str:
        await asyncio.sleep(self.delay)
        return "tok"

    async def charge(self, token: str, amount: Amount, idempotency_key: str) -> ChargeResult:
        await asyncio.sleep(self.delay)
        return ChargeResult(approved=True, charge_id="ch")

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        await asyncio.sleep(self.delay)
        return RefundResult(refund_id="re")

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        await asyncio.sleep(self.delay)
        return None


async def test_provider_client_enforces_its_deadline() -> None:
    amount = Amount(amount=100, currency="USD")
    fast = ProviderClient(SlowProvider(0), timeout=0.5)
    assert (await fast.charge("tok", amount, "k")).approved
    slow = ProviderClient(SlowProvider(5), timeout=0.01)
    with pytest.raises(ProviderTimeout):
        await slow.charge("tok", amount, "k")
    with pytest.raises(ProviderTimeout):
        await slow.refund("ch", amount, "k")


def test_a_card_never_prints_its_number() -> None:
    card = Card(number="4242424242424242", exp_month=1, exp_year=2030, cvc="123", brand="visa")
    assert "4242" not in repr(card) and "123" not in repr(card)
