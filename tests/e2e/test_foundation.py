"""The foundation end to end: identity, profiles, the catalog and the edge, via the gateway."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.client import Account, Shop, eventually

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def is_problem(response: httpx.Response, status: int) -> bool:
    """Whether `response` is an RFC 9457 problem with `status`."""
    return (
        response.status_code == status
        and response.headers["content-type"].startswith(PROBLEM)
        and response.json()["status"] == status
    )


def profile(shop: Shop, account: Account) -> dict[str, Any]:
    """The account's profile, once the users service has created it from the event."""

    def probe() -> dict[str, Any] | None:
        response = shop.http.get("/api/users/me", headers=account.headers)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body

    return eventually(probe, timeout=10)


# --- the edge -------------------------------------------------------------------------


def test_health_aggregates_every_service(shop: Shop) -> None:
    response = shop.http.get("/health")

    assert response.status_code == 200
    body = response.json()
    text = str(body)
    for name in ("auth", "users", "catalog"):
        assert name in text


def test_jwks_is_published_through_the_gateway(shop: Shop) -> None:
    response = shop.http.get("/.well-known/jwks.json")

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    assert all(key["kty"] == "RSA" and key["kid"] for key in keys)
    assert all("d" not in key for key in keys)  # public halves only


def test_an_unknown_route_is_a_404_problem(shop: Shop) -> None:
    assert is_problem(shop.http.get("/api/nosuch/things"), 404)
    assert is_problem(shop.http.get(f"/api/catalog/products/{uuid.uuid4()}"), 404)


def test_an_unknown_page_is_the_storefronts_404_page(shop: Shop) -> None:
    """Every path outside the API and the gateway's own is the storefront's."""
    page = shop.http.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Page not found" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["referrer-policy"] == "same-origin"
    home = shop.http.get("/")
    assert home.status_code == 200 and '<form role="search" action="/search"' in home.text


def test_malformed_json_is_a_400_problem(shop: Shop) -> None:
    response = shop.http.post(
        "/api/auth/login",
        content=b'{"email": "a@example.com", "password": ',
        headers={"content-type": "application/json"},
    )

    assert is_problem(response, 400)
    assert "Traceback" not in response.text


def test_input_that_could_not_be_stored_or_sent_back_is_refused_whole(
    shop: Shop, admin: Account, customer: Account
) -> None:
    # Each of these was once accepted: the product was written and then every listing
    # that held it failed, and the others were 500s on PostgreSQL.
    sku = f"E2E-{uuid.uuid4().hex[:10].upper()}"
    product = b'{"sku": "%s", "title": "Odd", "price": {"amount": 100, "currency": "USD"}' % (
        sku.encode()
    )
    headers = {**admin.headers, "content-type": "application/json"}
    for attributes in (b"NaN", b'"\\u0000"'):
        body = product + b', "attributes": {"n": ' + attributes + b"}}"
        response = shop.http.post("/api/catalog/products", content=body, headers=headers)
        assert is_problem(response, 400), attributes
        assert "cannot be read as JSON" in response.json()["detail"]
    # A number no column can hold is the field's 422, as any value out of its range.
    body = product + b', "attributes": {"n": 123456789012345678901234567890}}'
    response = shop.http.post("/api/catalog/products", content=body, headers=headers)
    assert is_problem(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["attributes.n"]
    newest = shop.http.get("/api/catalog/products", params={"limit": 5})
    assert newest.status_code == 200
    assert sku not in {item["sku"] for item in newest.json()["items"]}

    before = profile(shop, customer)
    bio = shop.http.patch("/api/users/me", json={"bio": "a\x00b"}, headers=customer.headers)
    assert is_problem(bio, 400)
    assert profile(shop, customer) == before
    for url in ("/api/catalog/products?q=a%00b", "/api/catalog/products/a%00b"):
        assert is_problem(shop.http.get(url), 400)


def test_a_schema_violation_names_the_field(shop: Shop) -> None:
    response = shop.http.post("/api/auth/register", json={"email": "not-an-email"})

    assert is_problem(response, 422)
    assert "email" in response.text


# --- identity -------------------------------------------------------------------------


def test_register_login_and_me(shop: Shop) -> None:
    email = shop.unique_email()

    user = shop.register(email, name="Grace Hopper")
    tokens = shop.login(email)
    me = shop.http.get("/api/auth/me", headers=shop.headers(tokens["access_token"]))

    assert user["email"] == email
    assert user["name"] == "Grace Hopper"
    assert user["roles"] == ["customer"]
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0
    assert tokens["refresh_token"]
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["email"] == email


def test_registering_an_email_twice_is_a_conflict(shop: Shop, customer: Account) -> None:
    response = shop.http.post(
        "/api/auth/register",
        json={"email": customer.email, "password": customer.password, "name": "Again"},
    )

    assert is_problem(response, 409)


def test_a_wrong_password_is_refused(shop: Shop, customer: Account) -> None:
    response = shop.http.post(
        "/api/auth/login", json={"email": customer.email, "password": "Wrong-Horse-43"}
    )

    assert is_problem(response, 401)


def test_requests_without_a_valid_token_are_401(shop: Shop) -> None:
    assert is_problem(shop.http.get("/api/auth/me"), 401)
    assert is_problem(shop.http.get("/api/users/me", headers=shop.headers("not.a.jwt")), 401)


def test_refresh_rotates_and_a_reused_token_is_refused(shop: Shop, customer: Account) -> None:
    old = customer.tokens["refresh_token"]

    rotated = shop.http.post("/api/auth/refresh", json={"refresh_token": old})
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["refresh_token"] != old
    assert fresh["token_type"] == "Bearer"
    me = shop.http.get("/api/auth/me", headers=shop.headers(fresh["access_token"]))
    assert me.status_code == 200

    reused = shop.http.post("/api/auth/refresh", json={"refresh_token": old})
    assert is_problem(reused, 401)
    # Reuse revokes the whole family: the token rotated in its place is dead too.
    family = shop.http.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert is_problem(family, 401)


def test_logout_refuses_the_access_token_within_a_second(shop: Shop, customer: Account) -> None:
    profile(shop, customer)  # the token works everywhere first

    logout = shop.http.post("/api/auth/logout", headers=customer.headers)
    assert logout.status_code == 204

    def refused() -> bool | None:
        response = shop.http.get("/api/users/me", headers=customer.headers)
        return True if response.status_code == 401 else None

    eventually(refused, timeout=2.0, interval=0.1)
    assert shop.http.get("/api/auth/me", headers=customer.headers).status_code == 401
    refresh = {"refresh_token": customer.tokens["refresh_token"]}
    assert shop.http.post("/api/auth/refresh", json=refresh).status_code == 401


# --- profiles -------------------------------------------------------------------------


def test_profile_read_and_update(shop: Shop) -> None:
    account = shop.new_customer(name="Ada Lovelace")

    mine = profile(shop, account)
    assert mine["id"] == account.id
    assert mine["email"] == account.email
    assert mine["name"] == "Ada Lovelace"

    changed = shop.http.patch(
        "/api/users/me",
        json={"name": "Ada King", "bio": "Analyst.", "preferences": {"newsletter": True}},
        headers=account.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Ada King"

    again = shop.http.get("/api/users/me", headers=account.headers).json()
    assert again["name"] == "Ada King"
    assert again["bio"] == "Analyst."
    assert again["preferences"]["newsletter"] is True


def test_a_bad_profile_change_is_a_422_problem(shop: Shop, customer: Account) -> None:
    profile(shop, customer)

    response = shop.http.patch(
        "/api/users/me", json={"avatar_url": "not a url"}, headers=customer.headers
    )

    assert is_problem(response, 422)


# --- catalog --------------------------------------------------------------------------


def test_the_demo_catalog_pages_by_cursor(shop: Shop) -> None:
    first = shop.http.get("/api/catalog/products", params={"limit": 5})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 5
    assert page["next_cursor"]

    second = shop.http.get(
        "/api/catalog/products", params={"limit": 5, "cursor": page["next_cursor"]}
    ).json()

    assert len(second["items"]) == 5
    ids = {p["id"] for p in page["items"]}
    assert ids.isdisjoint(p["id"] for p in second["items"])


def test_search_finds_matching_products(shop: Shop) -> None:
    found = shop.http.get("/api/catalog/products", params={"q": "laptop", "limit": 20})
    nothing = shop.http.get("/api/catalog/products", params={"q": "zzqxjv"})

    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert items
    assert any(
        "laptop" in " ".join([p["title"], p.get("category") or "", *p.get("tags", [])]).lower()
        for p in items
    )
    assert nothing.status_code == 200
    assert nothing.json()["items"] == []


def test_a_product_by_id(shop: Shop) -> None:
    listed = shop.http.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]

    response = shop.http.get(f"/api/catalog/products/{listed['id']}")

    assert response.status_code == 200
    product = response.json()
    assert product["id"] == listed["id"]
    assert product["sku"] == listed["sku"]
    assert isinstance(product["price"]["amount"], int)
    assert len(product["price"]["currency"]) == 3
    assert isinstance(product["stock"], int)


def test_head_answers_as_get_would_without_the_body(shop: Shop, customer: Account) -> None:
    listed = shop.http.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
    path = f"/api/catalog/products/{listed['id']}"
    got = shop.http.get(path)

    head = shop.http.head(path)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content)
    assert head.headers["x-content-type-options"] == "nosniff"  # the gateway's headers too
    # The gateway keeps its connection to the catalog after a HEAD: what follows on it
    # is framed right.
    for _ in range(5):
        assert shop.http.head(path).status_code == 200
        assert shop.http.get(path).json()["id"] == listed["id"]
    # Authentication applies as for GET, and the 401 carries no body either.
    me = shop.http.head("/api/users/me")
    assert me.status_code == 401
    assert me.content == b""
    assert shop.http.head("/api/users/me", headers=customer.headers).status_code == 200
    # A route without GET has no HEAD.
    login = shop.http.head("/api/auth/login")
    assert login.status_code == 405
    assert login.headers["allow"] == "POST"


def test_admin_creates_updates_and_deletes_a_product(shop: Shop, admin: Account) -> None:
    assert "admin" in shop.http.get("/api/auth/me", headers=admin.headers).json()["roles"]
    sku = f"E2E-{uuid.uuid4().hex[:10].upper()}"
    body = {
        "sku": sku,
        "title": "End-to-end Teapot",
        "description": "Short and stout.",
        "price": {"amount": 2599, "currency": "USD"},
        "stock": 7,
    }

    created = shop.http.post("/api/catalog/products", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["sku"] == sku
    url = f"/api/catalog/products/{product['id']}"
    assert shop.http.get(url).json()["title"] == "End-to-end Teapot"

    patch = {"price": {"amount": 1999, "currency": "USD"}, "title": "Teapot, reduced"}
    updated = shop.http.patch(url, json=patch, headers=admin.headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["price"] == {"amount": 1999, "currency": "USD"}
    assert shop.http.get(url).json()["title"] == "Teapot, reduced"

    deleted = shop.http.delete(url, headers=admin.headers)
    assert deleted.status_code == 204
    assert is_problem(shop.http.get(url), 404)


def test_customers_and_strangers_cannot_use_admin_routes(shop: Shop, customer: Account) -> None:
    listed = shop.http.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
    url = f"/api/catalog/products/{listed['id']}"
    body = {"sku": "NOPE-1", "title": "Nope", "price": {"amount": 1, "currency": "USD"}}

    assert is_problem(
        shop.http.post("/api/catalog/products", json=body, headers=customer.headers), 403
    )
    assert is_problem(shop.http.patch(url, json={"stock": 0}, headers=customer.headers), 403)
    assert is_problem(shop.http.delete(url, headers=customer.headers), 403)
    assert is_problem(shop.http.post("/api/catalog/products", json=body), 401)
    assert shop.http.get(url).json()["stock"] == listed["stock"]
