"""The whole system on MariaDB: every service's database on the machine's MariaDB.

`mercato up` with `MERCATO_<SERVICE>_DATABASE_URL=mysql+asyncmy://...` for every service
with a database (the `mariadb` system of `tests.e2e.system`, NATS as its broker), driven
through the gateway only: the demo catalog loads and is searched (InnoDB full-text),
a customer checks out, a declined card fails its order and releases the stock, the
invariants of `tests.e2e.invariants` hold over all of it (stock, money, the audit
log), and 50 customers racing for the last 10 units confirm exactly 10 orders (the
race of `test_checkout_race.py`, on MariaDB's row locks). Skipped without a MariaDB
server, failed instead under MERCATO_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import pytest

from tests.e2e.client import Account, Shop, System, add_card, fill_cart, products_in_stock
from tests.e2e.invariants import admin_product, check_invariants
from tests.e2e.test_checkout import checkout
from tests.e2e.test_checkout_race import (
    test_fifty_concurrent_checkouts_for_the_last_ten_units_confirm_exactly_ten as last_units,
)

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["mariadb"], indirect=True)]


def test_no_service_keeps_its_data_in_sqlite(system: System) -> None:
    # Without a database URL a service opens `<data dir>/<service>.db`.
    for name in ("auth", "users", "catalog", "orders", "payments", "logs", "shipping", "web"):
        assert not (system.data_dir / f"{name}.db").exists(), name


def test_the_demo_catalog_is_searched_with_innodb_full_text(shop: Shop) -> None:
    found = shop.http.get("/api/catalog/products", params={"q": "Laptops", "limit": 50}).json()
    assert found["items"]
    assert all(
        "laptop" in " ".join([p["title"], p["description"], *p["tags"]]).lower()
        for p in found["items"]
    )
    typo = shop.http.get("/api/catalog/products", params={"q": "labtop"}).json()
    assert typo.get("corrected") == "laptop" and typo["items"]


def test_checkouts_keep_every_invariant(shop: Shop, system: System, admin: Account) -> None:
    product = next(p for p in products_in_stock(shop) if p["stock"] >= 4)
    before = admin_product(shop, admin.headers, product["id"])
    buyer, declined = shop.new_customer(), shop.new_customer()

    fill_cart(shop, buyer, product["id"], 2)
    order = checkout(shop, buyer, add_card(shop, buyer, "4242424242424242"), "mariadb-ok")
    assert order["status"] == "confirmed", order

    fill_cart(shop, declined, product["id"], 1)
    refused = checkout(shop, declined, add_card(shop, declined, "4000000000000002"), "mariadb-no")
    assert refused["status"] == "payment_failed", refused

    check_invariants(shop, admin, [buyer, declined], stock={product["id"]: before})
    after = admin_product(shop, admin.headers, product["id"])
    assert after["on_hand"] == before["on_hand"] - 2 and after["reserved"] == before["reserved"]


def test_fifty_checkouts_for_the_last_ten_units_confirm_ten(
    shop: Shop, system: System, admin: Account
) -> None:
    last_units(shop, system, admin)
