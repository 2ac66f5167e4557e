"""Service tests of orders against several catalog instances: balancing and failover.

Two real catalog apps under uvicorn share one database, as replicas do; orders is
given both base URLs (`catalog_url` as a comma-separated list, the way the launcher
passes `--replicas catalog=N`).
"""

from __future__ import annotations

from pathlib import Path

from mercato.chassis.circuit import CircuitState
from mercato.orders.settings import load_settings
from tests.service.test_orders_harness import open_shop, served
from tests.support import TokenFactory

RESERVE = ("POST", "/api/catalog/reservations")


async def test_checkouts_use_every_catalog_instance_and_survive_one_stopped(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(tmp_path, tokens, catalog_replicas=2) as shop:
        first, second = shop.catalog_servers
        user = shop.customer()
        tea = await shop.product(stock=20)
        card = await shop.card(user)
        for _ in range(2):
            await shop.fill_cart(user, tea, 1)
            order = (await shop.checkout(user, card)).json()
            assert order["status"] == "confirmed", order
        # Orders balanced its calls: the second instance, which nothing else calls
        # (the test's own catalog client uses the first), served some of them.
        assert served(second.app) > 0
        assert served(first.app, *RESERVE) + served(second.app, *RESERVE) == 2
        reserved_by_second = served(second.app, *RESERVE)

        await second.stop()
        for _ in range(4):
            await shop.fill_cart(user, tea, 1)
            order = (await shop.checkout(user, card)).json()
            assert order["status"] == "confirmed", order

        assert served(first.app, *RESERVE) == 6 - reserved_by_second
        assert await shop.stock(tea) == 14
        http = shop.orders_app.state.runtime.http
        # The stopped instance was tried (and failed over from); the live one's circuit
        # never counted those failures.
        assert http.breaker("catalog", second.url).failures >= 1
        assert http.breaker("catalog", first.url).state is CircuitState.CLOSED
        assert http.breaker("catalog", first.url).failures == 0


def test_one_url_is_still_a_valid_setting_and_several_are_split() -> None:
    one = load_settings({"MERCATO_ORDERS_CATALOG_URL": "http://catalog:8000/"})
    assert one.catalog_urls == ("http://catalog:8000",)
    several = load_settings(
        {"MERCATO_ORDERS_PAYMENTS_URL": "http://p1:8150, http://p2:8150"},
    )
    assert several.payments_urls == ("http://p1:8150", "http://p2:8150")
