"""The shipping service's quotes, as checkout and the cart ask for them.

`Shipping.quotes` calls `GET /api/shipping/quotes` (the contract
`mercato.contracts.shipping`) with a service token, balanced over the instances of
`shipping_url`; when no instance is set the shop charges no shipping and `enabled` is
False. `choose` takes the method a checkout asked for, or the cheapest, and refuses
with a 422 naming the field that cannot be met. A shipping service that is down or
too slow is the ServiceClient's 503/504, an answer outside the contract a 502:
checkout stops there, as it cannot price the order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.service_client import ServiceClient, ServiceResponseError
from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.contracts.products import ProductOut
from mercato.contracts.shipping import Quote, QuoteList, QuoteQuery, parcel_weight
from mercato.orders.settings import OrdersSettings

__all__ = ["Shipping", "choose", "weight_of"]

log = logging.getLogger("mercato.orders.shipping_quotes")

SHIPPING = "shipping"


def weight_of(lines: Iterable[tuple[ProductOut, int]]) -> int:
    """The parcel's weight in grams, from each product's attributes."""
    return parcel_weight([(dict(product.attributes), quantity) for product, quantity in lines])


def choose(quotes: list[Quote], *, method: str | None, country: str) -> Quote:
    """The quote of `method`, or the cheapest; 422 naming the field that cannot be met."""
    if not quotes:
        detail = f"No shipping method ships this order to {country}."
        raise Unprocessable(
            detail, errors=[field_error("shipping_address.country", detail, type="not_shipped")]
        )
    if method is None:
        return min(quotes, key=lambda quote: (quote.price.amount, quote.method))
    for quote in quotes:
        if quote.method == method:
            return quote
    offered = ", ".join(quote.method for quote in quotes)
    detail = f"The shipping method {method} is not offered for this order; choose one of {offered}."
    raise Unprocessable(detail, errors=[field_error("shipping_method", detail, type="not_offered")])


class Shipping:
    """Quotes from the shipping service's instances (none: shipping is not charged)."""

    def __init__(self, http: ServiceClient, settings: OrdersSettings) -> None:
        self.http = http
        self.urls = settings.shipping_urls
        self.pool = Pool(SHIPPING, self.urls) if self.urls else None
        self.timeout = settings.shipping_timeout_seconds

    @property
    def enabled(self) -> bool:
        """Whether the shop charges shipping (a shipping service is set)."""
        return self.pool is not None

    async def quotes(
        self, *, country: str, currency: str, weight_grams: int, subtotal: int
    ) -> list[Quote]:
        """Every method that ships this parcel, cheapest first (empty: none ships there).

        A query the contract refuses (a country that is no ISO code) has no quote.
        """
        if self.pool is None:
            return []
        try:
            query = QuoteQuery(
                country=country, currency=currency, weight_grams=weight_grams, subtotal=subtotal
            )
        except ValidationError:
            return []
        params: dict[str, Any] = query.model_dump(mode="json")
        response = await self.http.request(
            "GET",
            "/api/shipping/quotes",
            target=SHIPPING,
            pool=self.pool,
            params=params,
            timeout=self.timeout,
        )
        response.raise_for_status()
        try:
            found = QuoteList.model_validate_json(response.body)
        except ValidationError as exc:
            log.warning("the shipping service answered outside its contract: %s", exc)
            raise ServiceResponseError(response) from exc
        if any(quote.price.currency != currency for quote in found.items):
            log.warning("the shipping service quoted in another currency than %s", currency)
            raise ServiceResponseError(response)
        return found.items
