"""Service tests of creating an account through the storefront, and of the forms' views.

The register form at the real auth: success signs in (see test_web_sessions), a taken
email, a password auth's policy refuses, missing fields; each gets the form back with
the message beside the field, what was typed kept, the password never.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.web.api.backend import ApiError, FieldError
from mercato.web.errors import local_path
from mercato.web.pages.account import REGISTER_FIELDS, field_messages, login_view
from tests.support.tokens import TokenFactory
from tests.support.web import Storefront, open_storefront, page_form, submit


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Storefront]:
    async with open_storefront(tmp_path, tokens) as shop:
        yield shop


def test_the_login_view_keeps_the_email_but_never_the_password() -> None:
    view = login_view(
        "tok",
        next_path="/account",
        values={"email": "ann@example.com", "password": "Secret-123456"},
        message="Wrong email or password.",
    )

    fields = {f.field.name: f.value for f in view.fields}
    assert fields == {"email": "ann@example.com", "password": ""}
    assert view.hidden == (("next", "/account"),)
    assert view.has_errors and view.submit == "Log in"


def test_auths_field_errors_read_as_sentences_beside_their_fields() -> None:
    refusal = ApiError(
        "auth",
        422,
        "Unprocessable Content",
        "Invalid fields",
        (
            FieldError("password", "must be at least 10 characters long"),
            FieldError("password", "must mix at least two of: lower case, upper case"),
            FieldError("email", "value is not a valid email address: no @"),
            FieldError("unknown", "ignored"),
        ),
    )

    assert field_messages(refusal, REGISTER_FIELDS) == {
        "password": "Password must be at least 10 characters long.",
        "email": "Email is not a valid email address: no @.",
    }


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", "/"),
        ("/account?x=1#top", "/account?x=1#top"),
        ("", "/"),
        (None, "/"),
        ("account", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/ok\\..", "/"),
        ("https://evil.example/", "/"),
        ("/line\nbreak", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_local_path_lets_only_this_sites_paths_through(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


async def test_a_taken_email_gets_the_form_back_saying_so(shop: Storefront) -> None:
    email, _ = await shop.register(shop.browser())

    browser = shop.browser()
    _, answer = await shop.register(browser, name="Someone Else", email=email)

    assert answer.status_code == 422
    assert "An account with this email already exists." in answer.text
    form = page_form(answer.text, "register")
    assert form["name"] == "Someone Else" and form["email"] == email and form["password"] == ""
    assert re.search(r'id="register-email"[^>]*aria-invalid="true"', answer.text)
    assert "Log out" not in answer.text


async def test_a_short_password_is_refused_beside_the_field(shop: Storefront) -> None:
    browser = shop.browser()
    fields = {"name": "Ann", "email": "ann-short@example.com", "password": "short1"}

    answer = await submit(browser, "/register", fields)

    assert answer.status_code == 422
    assert "Password must be at least 10 characters long." in answer.text
    assert 'aria-describedby="register-password-hint register-password-error"' in answer.text
    assert "short1" not in answer.text
    assert page_form(answer.text, "register")["email"] == "ann-short@example.com"


async def test_empty_fields_are_named_without_calling_auth(shop: Storefront) -> None:
    answer = await submit(shop.browser(), "/register", {"name": "", "email": " ", "password": ""})

    assert answer.status_code == 422
    for message in ("Name is required.", "Email is required.", "Password is required."):
        assert message in answer.text
    login = await submit(shop.browser(), "/login", {"email": "", "password": ""})
    assert login.status_code == 422 and "Email is required." in login.text


async def test_a_signed_in_shopper_going_to_the_login_page_goes_on(shop: Storefront) -> None:
    browser = shop.browser()
    await shop.register(browser)

    answer = await browser.get("/login", params={"next": "/account"})

    assert answer.status_code == 303 and answer.headers["location"] == "/account"
