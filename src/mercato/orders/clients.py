"""The orders service's calls to the catalog and payments, per their contracts.

Each service may run several instances (`catalog_url` / `payments_url` list them):
calls are balanced over a `Pool` of them by the ServiceClient, which keeps a circuit
breaker per instance and fails over to another instance when one is down.

Requests are built and answers parsed with the models of the contracts the catalog
and payments serve (`mercato.contracts.products`, `.inventory` and `.payments`), so
both sides hold to one shape. A request the contract itself refuses is never sent:
it gets what the service's 422 would have got (the reservation or the charge
refused, the refund `Rejected`).

Each method turns an answer into a small result; a service that is down, too slow
or behind an open circuit raises the ServiceClient's `ServiceUnavailableError`
(503) or `ServiceTimeoutError` (504), and an answer outside the contract (a status
it does not name, or a body that is not its model) raises `ServiceResponseError`
(502): all of them may pass, so the saga tries again later. `Retry` is an answer
that says so (busy, or a charge whose outcome payments has yet to learn from its
provider). `Rejected` is an answer that will not change however often the call is
repeated (a refund of a payment that does not fit it): the saga does not retry it.
Every write is idempotent: reservations by order id, charges and refunds by the
keys `<order_id>:charge` and `<order_id>:refund`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceResponse,
    ServiceResponseError,
)
from mercato.contracts.inventory import (
    ReservationIn,
    ReservationItemIn,
    ReservationItemOut,
    ReservationOut,
)
from mercato.contracts.payments import (
    ChargeIn,
    MoneyIn,
    PaymentOut,
    RefundIn,
    RefundList,
    RefundOut,
)
from mercato.contracts.products import ProductOut, ProductPage
from mercato.orders.settings import OrdersSettings

__all__ = [
    "Catalog",
    "Charge",
    "Payments",
    "Refund",
    "Rejected",
    "Reservation",
    "Retry",
    "charge_key",
    "refund_key",
]

log = logging.getLogger("mercato.orders.clients")

CATALOG = "catalog"
PAYMENTS = "payments"
BATCH = 50
MAX_REASON = 200
Answer = TypeVar("Answer", bound=BaseModel)


class Retry(Exception):
    """A dependency answered that the call should be tried again later (e.g. 409 busy)."""


class Rejected(Exception):
    """A dependency refused the call for good: repeating it cannot change the answer."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """The catalog's answer to a reservation: held and priced, or why not.

    Not held because of stock (`out_of_stock`), or because the catalog refused the
    lines themselves (a product gone, prices in several currencies).
    """

    ok: bool
    items: list[ReservationItemOut]
    reason: str = ""
    out_of_stock: bool = False


class Refund(Enum):
    """The outcome of an order's refund."""

    MADE = "made"  # refunded now (or by an earlier attempt with the same key)
    ALREADY = "already"  # nothing was left to refund: someone refunded it in full before


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of a charge: `succeeded` or `failed` (with the reason)."""

    succeeded: bool
    payment_id: str | None
    reason: str


def charge_key(order_id: str) -> str:
    """The idempotency key of an order's charge."""
    return f"{order_id}:charge"


def refund_key(order_id: str) -> str:
    """The idempotency key of an order's refund."""
    return f"{order_id}:refund"


def _detail(response: ServiceResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text()[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return str(body)[:500]


def _parsed(model: type[Answer], response: ServiceResponse) -> Answer:
    """The answer's body as its contract's `model`; ServiceResponseError when it is not."""
    try:
        return model.model_validate_json(response.body)
    except ValidationError as exc:
        log.warning("the %s service answered outside its contract: %s", response.target, exc)
        raise ServiceResponseError(response) from exc


def _invalid(exc: ValidationError) -> str:
    """Why the contract refuses a request, one `field: message` per error."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )


class _Service:
    """Calls to one service's instances, each bounded by the same deadlines."""

    def __init__(
        self,
        http: ServiceClient,
        target: str,
        urls: Sequence[str],
        *,
        timeout: float,
        attempt_timeout: float,
    ) -> None:
        self.http = http
        self.target = target
        self.pool = Pool(target, urls)
        self.base = f"/api/{target}"
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout or None  # 0: the whole call

    async def call(self, method: str, path: str, **kwargs: Any) -> ServiceResponse:
        """`method` `base + path` on one of the instances (see `ServiceClient.request`)."""
        return await self.http.request(
            method,
            self.base + path,
            target=self.target,
            pool=self.pool,
            timeout=self.timeout,
            attempt_timeout=self.attempt_timeout,
            **kwargs,
        )


class Catalog(_Service):
    """The catalog's product lookups and inventory reservations."""

    def __init__(self, http: ServiceClient, settings: OrdersSettings) -> None:
        super().__init__(
            http,
            CATALOG,
            settings.catalog_urls,
            timeout=settings.catalog_timeout_seconds,
            attempt_timeout=settings.catalog_attempt_timeout_seconds,
        )

    async def products(self, ids: Iterable[str]) -> dict[str, ProductOut]:
        """The products among `ids` that exist, by id (batch lookups)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, ProductOut] = {}
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            response = await self.call(
                "GET",
                "/products",
                params={"ids": ",".join(chunk), "limit": len(chunk)},
                auth=False,
            )
            response.raise_for_status()
            for product in _parsed(ProductPage, response).items:
                if product.id in chunk:
                    found[product.id] = product
        return found

    async def reserve(
        self, *, order_id: str, items: Sequence[dict[str, Any]], ttl_seconds: int
    ) -> Reservation:
        """Hold stock for an order (idempotent by order id) and learn its prices."""
        try:
            request = ReservationIn(
                order_id=order_id,
                items=[
                    ReservationItemIn(product_id=i["product_id"], quantity=i["quantity"])
                    for i in items
                ],
                ttl_seconds=ttl_seconds,
            )
        except ValidationError as exc:  # what the catalog's 422 would say
            return Reservation(ok=False, items=[], reason=_invalid(exc))
        response = await self.call(
            "POST",
            "/reservations",
            json=request.model_dump(mode="json", exclude_unset=True),
            idempotent=True,
        )
        if response.status in (200, 201):
            return Reservation(ok=True, items=_parsed(ReservationOut, response).items)
        if response.status == 409:
            return Reservation(ok=False, items=[], reason=_detail(response), out_of_stock=True)
        if response.status == 422:
            return Reservation(ok=False, items=[], reason=_detail(response))
        raise ServiceResponseError(response)

    async def commit(self, *, order_id: str) -> bool:
        """Take reserved stock off the shelf; False when the reservation is gone."""
        response = await self.call("POST", f"/reservations/{order_id}/commit", idempotent=True)
        if response.status == 200:
            _parsed(ReservationOut, response)
            return True
        if response.status in (404, 409):
            return False
        raise ServiceResponseError(response)

    async def release(self, *, order_id: str) -> None:
        """Give held (or committed) stock back; a reservation that never was is fine."""
        response = await self.call("POST", f"/reservations/{order_id}/release", idempotent=True)
        if response.status == 200:
            _parsed(ReservationOut, response)
            return
        if response.status == 404:
            return
        if response.status == 409:
            raise Retry(f"the catalog refused to release {order_id}: {_detail(response)}")
        raise ServiceResponseError(response)


class Payments(_Service):
    """Charges and refunds at the payments service."""

    def __init__(self, http: ServiceClient, settings: OrdersSettings) -> None:
        super().__init__(
            http,
            PAYMENTS,
            settings.payments_urls,
            timeout=settings.payments_timeout_seconds,
            attempt_timeout=settings.payments_attempt_timeout_seconds,
        )

    async def charge(
        self,
        *,
        order_id: str,
        user_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
    ) -> Charge:
        """Charge an order's total once (by the key `<order_id>:charge`)."""
        try:
            request = ChargeIn(
                order_id=order_id,
                user_id=user_id,
                payment_method_id=payment_method_id,
                amount=MoneyIn(amount=amount, currency=currency),
            )
        except ValidationError as exc:  # what payments' 422 would say: nothing charged
            return Charge(succeeded=False, payment_id=None, reason=_invalid(exc))
        response = await self.call(
            "POST",
            "/charges",
            json=request.model_dump(mode="json", exclude_unset=True),
            idempotency_key=charge_key(order_id),
        )
        if response.status in (200, 201):
            return _outcome(order_id, _parsed(PaymentOut, response))
        if response.status == 409:
            raise Retry(f"the charge of {order_id} is still being processed")
        if _refused_for_good(response.status):  # e.g. the method is gone: nothing charged
            return Charge(succeeded=False, payment_id=None, reason=_detail(response))
        raise ServiceResponseError(response)

    async def refund(self, *, order_id: str, payment_id: str, reason: str) -> Refund:
        """Refund what is left of a payment, once (by the key `<order_id>:refund`).

        A payment that someone (an admin) has refunded in full already is answered 422
        by payments: its money is back, which is all the saga wanted (`ALREADY`).
        """
        try:
            request = RefundIn(reason=reason[:MAX_REASON])
        except ValidationError as exc:  # what payments' 422 would say
            refused = f"payments would refuse the refund of {order_id}: {_invalid(exc)}"
            raise Rejected(refused) from exc
        response = await self.call(
            "POST",
            f"/{payment_id}/refunds",
            json=request.model_dump(mode="json", exclude_unset=True),
            idempotency_key=refund_key(order_id),
        )
        if response.status in (200, 201):
            _parsed(RefundOut, response)
            return Refund.MADE
        if response.status == 409:
            raise Retry(f"the refund of {order_id} is still being processed")
        if response.status == 422 and await self._refunded_in_full(payment_id):
            return Refund.ALREADY
        if _refused_for_good(response.status):
            raise Rejected(f"payments refused the refund of {order_id}: {_detail(response)}")
        raise ServiceResponseError(response)

    async def _refunded_in_full(self, payment_id: str) -> bool:
        """Whether every unit of a payment has been given back by refunds that succeeded.

        A refund still in flight may yet fail, so while there is one the answer is not
        known: Retry.
        """
        payment = await self.call("GET", f"/{payment_id}")
        refunds = await self.call("GET", f"/{payment_id}/refunds")
        if payment.status != 200 or refunds.status != 200:
            return False
        items = _parsed(RefundList, refunds).items
        if any(item.status == "pending" for item in items):
            raise Retry(f"a refund of payment {payment_id} is still with the provider")
        done = sum(item.amount.amount for item in items if item.status == "succeeded")
        return done >= _parsed(PaymentOut, payment).amount.amount


def _outcome(order_id: str, payment: PaymentOut) -> Charge:
    """What a charge's payment says: succeeded, failed (why), or not known yet (Retry)."""
    payment_id = payment.id or None
    if payment.status == "succeeded":
        return Charge(succeeded=True, payment_id=payment_id, reason="")
    if payment.status == "pending":
        raise Retry(f"the charge of {order_id} is still with the provider")
    if payment.status == "unknown":
        raise Retry(
            f"the outcome of the charge of {order_id} is unknown (the provider did not "
            "answer in time) until payments reconciles it with the provider"
        )
    reason = payment.reason or "the payment was declined"
    return Charge(succeeded=False, payment_id=payment_id, reason=reason)


def _refused_for_good(status: int) -> bool:
    """Whether an answer is a refusal that repeating the call cannot change.

    4xx, except those that depend on the moment: a token refused (401/403, e.g. keys
    being rotated), a timeout or a conflict (408/409/425) and rate limiting (429).
    """
    return 400 <= status < 500 and status not in (401, 403, 408, 409, 425, 429)
