"""Service tests of orders against several catalog instances: balancing and failover.

Two real catalog apps under uvicorn share one database, as replicas do; orders is
given both base URLs (`catalog_url` as a comma-separated list, the way the launcher
passes `--replicas catalog=N`).
"""

from __future__ import annotations

import socket
from pathlib import Path

from mercato.chassis.client.circuit import CircuitState
from mercato.orders.settings import load_settings
from tests.support.orders import open_shop, served
from tests.support.tokens import TokenFactory

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


async def test_a_hung_catalog_instance_costs_one_try_not_the_checkout(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    # A listener that never accepts: connections open (the kernel completes them) and
    # requests are sent, but no answer ever comes, as from a replica that hangs.
    with socket.create_server(("127.0.0.1", 0), backlog=64) as hung:
        hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        async with open_shop(
            tmp_path,
            tokens,
            more_catalog_urls=[hung_url],
            catalog_timeout_seconds=12.0,
            # Well above the live instance's answer time on a loaded machine: at 0.3 s,
            # a slow answer from it during a busy CI run was a second timed-out try and
            # the commit gave up, leaving the order for the sweeper.
            catalog_attempt_timeout_seconds=1.0,
            # Shorter than one catalog call's deadline: a checkout whose call waited
            # for the hung instance to the end would still be in flight when answered.
            checkout_timeout_seconds=6.0,
        ) as shop:
            user = shop.customer()
            tea = await shop.product(stock=10)
            card = await shop.card(user)
            for _ in range(3):
                await shop.fill_cart(user, tea, 1)
                checkout = await shop.checkout(user, card)
                assert checkout.status_code == 201, checkout.text
                assert checkout.json()["status"] == "confirmed", checkout.json()

            assert await shop.stock(tea) == 7
            http = shop.orders_app.state.runtime.http
            assert http.breaker("catalog", hung_url).failures >= 1
            assert http.breaker("catalog", shop.catalog_servers[0].url).failures == 0


def test_attempt_timeouts_default_to_catalog_only() -> None:
    defaults = load_settings({})
    assert defaults.catalog_attempt_timeout_seconds == 1.5
    assert defaults.payments_attempt_timeout_seconds == 0.0
    assert (
        load_settings(
            {"MERCATO_ORDERS_CATALOG_ATTEMPT_TIMEOUT_SECONDS": "0.25"}
        ).catalog_attempt_timeout_seconds
        == 0.25
    )


def test_one_url_is_still_a_valid_setting_and_several_are_split() -> None:
    one = load_settings({"MERCATO_ORDERS_CATALOG_URL": "http://catalog:8000/"})
    assert one.catalog_urls == ("http://catalog:8000",)
    several = load_settings(
        {"MERCATO_ORDERS_PAYMENTS_URL": "http://p1:8150, http://p2:8150"},
    )
    assert several.payments_urls == ("http://p1:8150", "http://p2:8150")
