"""Unit tests of the users service's input validation, merge rules and profile body."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from mercato.chassis.web.errors import Unprocessable
from mercato.chassis.web.json_response import JsonResponse
from mercato.users.countries import COUNTRY_CODES, is_country_code
from mercato.users.models import Profile
from mercato.users.schemas import AddressIn, ProfileOut, ProfilePatch, profile_body
from mercato.users.service import MAX_PREFERENCE_BYTES, merge_preferences, resolve_addresses

ADDRESS: dict[str, Any] = {
    "name": "Ann Example",
    "line1": "Main Street 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


def fields_of(error: ValidationError) -> list[str]:
    """The dotted locations of a pydantic error's entries."""
    return [".".join(str(part) for part in e["loc"]) for e in error.errors()]


def test_there_are_249_assigned_country_codes() -> None:
    assert len(COUNTRY_CODES) == 249
    assert is_country_code("DE")
    assert not is_country_code("UK")
    assert not is_country_code("XX")


def test_country_is_normalised_to_upper_case() -> None:
    assert AddressIn.model_validate({**ADDRESS, "country": " de "}).country == "DE"


@pytest.mark.parametrize("country", ["XX", "Germany", "", "D"])
def test_bad_country_names_the_field(country: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"addresses": [{**ADDRESS, "country": country}]})
    assert fields_of(caught.value) == ["addresses.0.country"]


def test_blank_optional_address_fields_become_null() -> None:
    address = AddressIn.model_validate({**ADDRESS, "line2": "  ", "phone": ""})
    assert address.line2 is None
    assert address.phone is None


@pytest.mark.parametrize("phone", ["abc", "+1", "12345678901234567", "+49 (30) x"])
def test_bad_phone(phone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AddressIn.model_validate({**ADDRESS, "phone": phone})
    assert fields_of(caught.value) == ["phone"]


def test_good_phone() -> None:
    assert AddressIn.model_validate({**ADDRESS, "phone": "+49 (30) 123-4567"}).phone


def test_only_one_default_address() -> None:
    two = [{**ADDRESS, "is_default": True}, {**ADDRESS, "is_default": True}]
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"addresses": two})
    assert fields_of(caught.value) == ["addresses"]


def test_at_most_ten_addresses() -> None:
    ProfilePatch.model_validate({"addresses": [ADDRESS] * 10})
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"addresses": [ADDRESS] * 11})
    assert fields_of(caught.value) == ["addresses"]


def test_duplicate_address_ids() -> None:
    with pytest.raises(ValidationError):
        ProfilePatch.model_validate({"addresses": [{**ADDRESS, "id": "a"}, {**ADDRESS, "id": "a"}]})


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "not a url", "javascript:alert(1)"])
def test_avatar_must_be_http(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"avatar_url": url})
    assert fields_of(caught.value) == ["avatar_url"]


def test_an_avatar_url_must_fit_its_column_once_normalised() -> None:
    host = "https://" + ".".join(["a" * 63] * 40)
    fits = ProfilePatch.model_validate({"avatar_url": host[:2047] + "/"})
    assert len(str(fits.avatar_url)) == 2048
    # 2048 characters as sent, 2049 once a `/` follows the bare host: PostgreSQL's
    # varchar(2048) refused it with a 500.
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"avatar_url": host[:2048]})
    assert fields_of(caught.value) == ["avatar_url"]


def test_only_sent_fields_are_set() -> None:
    patch = ProfilePatch.model_validate({"bio": "hi"})
    assert patch.model_fields_set == {"bio"}


def test_email_cannot_be_changed_here() -> None:
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"email": "x@example.com"})
    assert fields_of(caught.value) == ["email"]


def test_known_preferences_are_typed() -> None:
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate(
            {"preferences": {"newsletter": "yes", "currency": "EURO", "language": "English"}}
        )
    assert sorted(fields_of(caught.value)) == [
        "preferences.currency",
        "preferences.language",
        "preferences.newsletter",
    ]


def test_preference_keys_are_checked() -> None:
    with pytest.raises(ValidationError) as caught:
        ProfilePatch.model_validate({"preferences": {"has space": 1}})
    assert fields_of(caught.value) == ["preferences"]


def test_preferences_merge_and_null_removes() -> None:
    patch = ProfilePatch.model_validate(
        {"preferences": {"currency": "usd", "newsletter": None, "theme": {"dark": True}}}
    )
    merged = merge_preferences({"newsletter": True, "language": "en"}, patch.preferences.changes())
    assert merged == {"language": "en", "currency": "USD", "theme": {"dark": True}}


def test_preferences_size_is_bounded() -> None:
    with pytest.raises(Unprocessable) as caught:
        merge_preferences({}, {"blob": "x" * MAX_PREFERENCE_BYTES})
    assert caught.value.errors is not None
    assert caught.value.errors[0]["field"] == "preferences"


def test_resolve_addresses_keeps_known_ids_and_assigns_new_ones() -> None:
    current = [{**ADDRESS, "id": "home"}]
    sent = [AddressIn.model_validate({**ADDRESS, "id": "home"}), AddressIn.model_validate(ADDRESS)]
    resolved = resolve_addresses(current, sent)
    assert resolved[0]["id"] == "home"
    assert resolved[1]["id"] and resolved[1]["id"] != "home"


def test_resolve_addresses_refuses_unknown_ids() -> None:
    with pytest.raises(Unprocessable) as caught:
        resolve_addresses([], [AddressIn.model_validate({**ADDRESS, "id": "nope"})])
    assert caught.value.errors is not None
    assert caught.value.errors[0]["field"] == "addresses.0.id"


def test_profile_body_is_the_profile_out_shape() -> None:
    now = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    profile = Profile(
        user_id="u-1",
        email="ann@example.com",
        name="Ann",
        bio="Hi",
        avatar_url="https://example.com/a.png",
        preferences={"theme": "dark", "n": 3},
        addresses=resolve_addresses([], [AddressIn.model_validate(ADDRESS)]),
        created_at=now,
        updated_at=now,
        version=1,
    )
    body = profile_body(profile)
    sent = orjson.loads(JsonResponse(body).body)
    assert sent == ProfileOut.model_validate(body).model_dump(mode="json")
    assert sent["created_at"] == "2026-11-23T01:02:03.456789Z"
    assert sent["addresses"][0]["country"] == "DE"
