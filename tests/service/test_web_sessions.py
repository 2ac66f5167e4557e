"""Service tests of the storefront's sessions: cookies, sign-in and out, CSRF, refresh.

Against real auth and users servers (`tests.support.web`), as an attacker would try:
a forged or expired cookie, a session fixed before login, a post without the token or
from another site, an open redirect through `next`, another shopper's failed logins.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.responses import PlainTextResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api.backend import Caller
from mercato.web.models import SessionRecord
from mercato.web.sealing import PREFIX
from mercato.web.sessions import COOKIE, SECURE_COOKIE, Sessions, hash_id, seal_of
from mercato.web.shopper import ShopperDep
from tests.support.auth import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.tokens import TokenFactory
from tests.support.web import PASSWORD, SHOP, Storefront, open_storefront, page_form, submit


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Storefront]:
    async with open_storefront(tmp_path, tokens) as shop:
        yield shop


async def _records(shop: Storefront) -> list[SessionRecord]:
    async with shop.app.state.runtime.database.session() as db:
        return list((await db.scalars(select(SessionRecord))).all())


def _set_cookie(answer: httpx.Response) -> str:
    return answer.headers["set-cookie"]


async def test_registering_signs_the_new_customer_in(shop: Storefront) -> None:
    browser = shop.browser()
    email, answer = await shop.register(browser, name="Ann Shopper")

    assert answer.status_code == 303 and answer.headers["location"] == "/"
    home = await browser.get("/")
    assert "Welcome, Ann Shopper! Your account is ready." in home.text
    assert '<a href="/account" class="who">Ann Shopper</a>' in home.text
    assert ">Log out</button>" in home.text
    again = await browser.get("/")
    assert "Your account is ready" not in again.text  # a message shows once
    (record,) = await _records(shop)
    assert record.user_email == email and record.roles == "customer"


async def test_the_session_cookie_is_httponly_lax_and_holds_no_token(shop: Storefront) -> None:
    browser = shop.browser()
    _, answer = await shop.register(browser)

    cookie = _set_cookie(answer)
    name, _, rest = cookie.partition("=")
    value = rest.split(";")[0]
    assert name == COOKIE
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here: a Secure cookie would not come back
    (record,) = await _records(shop)
    assert record.id_hash == hash_id(value) and value not in record.id_hash
    assert record.access_token and record.access_token not in cookie
    assert record.refresh_token and record.refresh_token not in cookie


async def test_the_stored_tokens_are_sealed_and_open_only_with_the_cookie(
    shop: Storefront,
) -> None:
    """A copy of the sessions table gives an attacker neither a session nor a token."""
    browser = shop.browser()
    await shop.register(browser)
    (record,) = await _records(shop)
    assert record.access_token and record.refresh_token
    assert record.access_token.startswith(PREFIX) and record.refresh_token.startswith(PREFIX)
    access = seal_of(browser.cookies[COOKIE]).open(record.access_token)
    async with httpx.AsyncClient(base_url=shop.auth.url) as auth:
        stolen = await auth.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {record.access_token}"}
        )
        stolen_refresh = await auth.post(
            "/api/auth/refresh", json={"refresh_token": record.refresh_token}
        )
        opened = await auth.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert stolen.status_code == 401 and stolen_refresh.status_code == 401
    assert opened.status_code == 200  # the cookie's key opens them: the shop's own use


async def test_tokens_that_do_not_open_end_the_sign_in(shop: Storefront) -> None:
    """Another session's sealed tokens copied into a row (or a row from before sealing)."""
    victim, attacker = shop.browser(), shop.browser()
    await shop.register(victim)
    await shop.register(attacker)
    victims = hash_id(victim.cookies[COOKIE])
    async with shop.app.state.runtime.database.session() as db:
        rows = {r.id_hash: r for r in (await db.scalars(select(SessionRecord))).all()}
        theirs = rows[hash_id(attacker.cookies[COOKIE])]
        theirs.access_token = rows[victims].access_token
        theirs.refresh_token = rows[victims].refresh_token
        await db.commit()

    answer = await attacker.get("/account")

    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert victims in {r.id_hash for r in await _records(shop)}  # the victim's stays
    assert "Log out" in (await victim.get("/")).text


async def test_over_https_the_cookie_is_secure_with_the_host_prefix(shop: Storefront) -> None:
    behind_tls = shop.browser({"X-Forwarded-Proto": "https"})  # the gateway's word for it
    cookie = _set_cookie(await behind_tls.get("/login"))
    assert cookie.startswith(f"{SECURE_COOKIE}=")
    assert "; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie

    email, _ = await shop.register(shop.browser())
    browser = shop.browser(https=True)
    signed = await submit(browser, "/login", {"email": email, "password": PASSWORD})
    assert signed.status_code == 303
    assert _set_cookie(signed).startswith(f"{SECURE_COOKIE}=")
    assert "Log out" in (await browser.get("/")).text


async def test_logging_in_starts_a_new_session_so_a_fixed_one_is_useless(shop: Storefront) -> None:
    email, _ = await shop.register(shop.browser())
    browser = shop.browser()
    await browser.get("/login")
    fixed = browser.cookies[COOKIE]  # what an attacker would have planted

    answer = await shop.login(browser, email)

    assert answer.status_code == 303
    assert browser.cookies[COOKIE] != fixed
    planted = shop.browser()
    planted.cookies.set(COOKIE, fixed)
    assert "Log out" not in (await planted.get("/")).text
    assert hash_id(fixed) not in {r.id_hash for r in await _records(shop)}


async def test_a_forged_or_ended_cookie_is_a_visitor(shop: Storefront) -> None:
    email, _ = await shop.register(signed := shop.browser())
    forged = shop.browser()
    forged.cookies.set(COOKIE, "A" * 43)
    assert "Log out" not in (await forged.get("/")).text
    huge = shop.browser()
    huge.cookies.set(COOKIE, "A" * 5000)
    assert (await huge.get("/")).status_code == 200

    sessions = shop.app.state.runtime.context.sessions
    real_clock = sessions.clock
    sessions.clock = lambda: real_clock() + timedelta(hours=3)  # past the idle expiry
    try:
        assert "Log out" not in (await signed.get("/")).text
    finally:
        sessions.clock = real_clock
    assert await _records(shop) == []  # the ended session was deleted when presented
    assert email


async def test_next_is_honoured_only_for_a_path_of_this_site(shop: Storefront) -> None:
    email, _ = await shop.register(shop.browser())
    attempts = {
        "https://evil.example/": "/",
        "//evil.example/x": "/",
        "/\\evil.example": "/",
        "javascript:alert(1)": "/",
        "/account?tab=addresses": "/account?tab=addresses",
    }
    for target, expected in attempts.items():
        browser = shop.browser()
        page = await browser.get("/login", params={"next": target})
        form = page_form(page.text, "login")
        assert form.get("next", "/") == expected, target
        sent = {"email": email, "password": PASSWORD, "next": target}
        answer = await submit(browser, "/login", sent)
        assert answer.status_code == 303
        assert answer.headers["location"] == expected, target


async def test_a_wrong_password_gets_the_form_back_with_the_email_kept(shop: Storefront) -> None:
    email, _ = await shop.register(shop.browser())
    browser = shop.browser()

    answer = await shop.login(browser, email, "Wrong-password-1")

    assert answer.status_code == 400
    assert "Wrong email or password." in answer.text
    form = page_form(answer.text, "login")
    assert form["email"] == email and form["password"] == ""
    assert "Wrong-password-1" not in answer.text
    assert "Log out" not in answer.text


async def test_one_shoppers_failed_logins_do_not_throttle_another(shop: Storefront) -> None:
    """Auth counts failures per address: it must see each shopper's, not the storefront's."""
    email, _ = await shop.register(shop.browser())
    attacker = shop.browser(shop.gateway_headers("198.51.100.66"))
    for _ in range(6):  # auth allows 5 failures of one account from one address
        answer = await shop.login(attacker, email, "Not-the-password-9")
    assert answer.status_code == 429
    assert "try again in" in answer.text and answer.headers["retry-after"]

    owner = shop.browser(shop.gateway_headers("203.0.113.10"))
    answer = await shop.login(owner, email)
    assert answer.status_code == 303, answer.text


async def test_a_post_without_the_token_or_from_another_site_is_refused(shop: Storefront) -> None:
    email, _ = await shop.register(shop.browser())
    browser = shop.browser()
    token = page_form((await browser.get("/login")).text, "login")["csrf_token"]
    fields = {"email": email, "password": PASSWORD}
    tries = [
        ({**fields}, {}),  # no token
        ({**fields, "csrf_token": "forged"}, {}),
        ({**fields, "csrf_token": token}, {"Origin": "https://evil.example"}),
        ({**fields, "csrf_token": token}, {"Origin": "null"}),
        ({**fields, "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for body, headers in tries:
        answer = await browser.post("/login", data=body, headers=headers)
        assert answer.status_code == 403, (body, headers)
        assert answer.headers["content-type"].startswith("text/html")
        assert "We could not accept this form" in answer.text
        form = page_form(answer.text, "login")
        assert form["email"] == "" and form["csrf_token"] == token  # shown again, empty
    stranger = shop.browser()  # no session at all: no token to send
    answer = await stranger.post("/login", data={**fields, "csrf_token": token})
    assert answer.status_code == 403
    assert "Log out" not in (await browser.get("/")).text
    ok = await browser.post(
        "/login", data={**fields, "csrf_token": token}, headers={"Origin": SHOP}
    )
    assert ok.status_code == 303


async def test_logging_out_revokes_the_tokens_at_auth(shop: Storefront) -> None:
    browser = shop.browser()
    await shop.register(browser)
    (record,) = await _records(shop)
    assert record.access_token is not None
    access = seal_of(browser.cookies[COOKIE]).open(record.access_token)

    answer = await submit(browser, "/logout", {}, page="/")

    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert hash_id(browser.cookies[COOKIE]) != record.id_hash  # a visitor's, for the message
    home = await browser.get("/")
    assert "You have logged out." in home.text and ">Log in</a>" in home.text
    assert all(r.user_id is None for r in await _records(shop))
    async with httpx.AsyncClient(base_url=shop.auth.url) as auth:
        me = await auth.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401


async def test_a_logout_without_the_token_is_refused_and_keeps_the_session(
    shop: Storefront,
) -> None:
    browser = shop.browser()
    await shop.register(browser)

    answer = await browser.post("/logout", data={}, headers={"Origin": SHOP})

    assert answer.status_code == 403
    assert "We could not accept this form" in answer.text
    assert "Log out" in answer.text  # the button again, with a good token
    assert "Log out" in (await browser.get("/")).text


async def test_an_expired_access_token_is_refreshed_once_for_concurrent_pages(
    shop: Storefront,
) -> None:
    """Two pages at once with an expired token: one refresh, no reuse revoking the family."""
    browser = shop.browser()
    await shop.register(browser)
    sessions = shop.app.state.runtime.context.sessions
    (record,) = await _records(shop)
    old_refresh = record.refresh_token
    real_clock = sessions.clock
    sessions.clock = lambda: real_clock() + timedelta(minutes=20)  # past the 15 min token
    try:
        answers = await asyncio.gather(*(browser.get("/") for _ in range(4)))
    finally:
        sessions.clock = real_clock
    assert all(a.status_code == 200 and "Log out" in a.text for a in answers)
    (record,) = await _records(shop)
    assert record.refresh_token != old_refresh
    assert record.refreshing_until is None and record.access_token is not None
    access = seal_of(browser.cookies[COOKIE]).open(record.access_token)
    async with httpx.AsyncClient(base_url=shop.auth.url) as auth:
        me = await auth.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200  # the family was not revoked as a reuse


async def test_two_replicas_refreshing_one_session_send_its_refresh_token_once(
    shop: Storefront,
) -> None:
    """Each replica has its own lock: the claim on the shared row keeps the refresh single."""
    browser = shop.browser()
    await shop.register(browser)
    runtime = shop.app.state.runtime
    ctx = runtime.context
    (record,) = await _records(shop)
    replica = Sessions(runtime.database, ctx.settings)  # another process's, on the same DB
    later = ctx.sessions.clock() + timedelta(minutes=20)
    for sessions in (ctx.sessions, replica):
        sessions.clock = lambda: later
    visitor = Caller(ctx.backend, None, "127.0.0.1")
    copies = [await ctx.sessions.find(browser.cookies[COOKIE]) for _ in range(2)]
    assert copies[0] is not None and copies[1] is not None
    seal = seal_of(browser.cookies[COOKIE])

    tokens = await asyncio.gather(
        ctx.sessions.access_token(copies[0], visitor, seal),
        replica.access_token(copies[1], visitor, seal),
    )

    assert record.access_token is not None
    assert tokens[0] == tokens[1] != seal.open(record.access_token)
    async with httpx.AsyncClient(base_url=shop.auth.url) as auth:
        me = await auth.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert me.status_code == 200  # no second use of one refresh token revoked the family


async def test_an_admin_page_is_for_administrators_only(shop: Storefront) -> None:
    """`Shopper.admin()`: a visitor logs in first, a customer gets the 404 page."""

    async def console(shopper: ShopperDep) -> Response:
        await shopper.admin()
        return PlainTextResponse("the console")

    shop.app.router.add_api_route("/ops-probe", console, route_class_override=StrictJsonRoute)
    visitor = await shop.browser().get("/ops-probe")
    customer = shop.browser()
    await shop.register(customer)
    administrator = shop.browser()
    await shop.login(administrator, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert visitor.status_code == 303
    assert visitor.headers["location"] == "/login?next=%2Fops-probe"
    refused = await customer.get("/ops-probe")
    assert refused.status_code == 404 and "Page not found" in refused.text
    assert ">Operations</a>" not in (await customer.get("/")).text
    allowed = await administrator.get("/ops-probe")
    assert allowed.status_code == 200 and allowed.text == "the console"
    assert '<a href="/ops">Operations</a>' in (await administrator.get("/")).text
