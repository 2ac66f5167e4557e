"""The return saga's calls: restock at the catalog, a partial refund at payments.

Both go through the service's existing clients (`clients.Catalog`, `clients.Payments`:
their instances, timeouts and circuit breakers) and are idempotent by the return's
id: the catalog keeps one restock per return (`contracts.restocks`), and payments one
refund per Idempotency-Key, which is the return id. As in `clients`, a service that is
down, slow or answers outside its contract raises (the saga retries later), `Retry`
is an answer that says to, and `Rejected` one that repeating cannot change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mercato.chassis.client.service_client import ServiceResponse, ServiceResponseError
from mercato.contracts.inventory import ReservationItemIn
from mercato.contracts.payments import MoneyIn, RefundIn, RefundOut
from mercato.contracts.restocks import ReturnRestockIn, ReturnRestockOut
from mercato.orders.clients import Catalog, Payments, Rejected, Retry

__all__ = ["refund_return", "restock_return", "return_key"]

log = logging.getLogger("mercato.orders.return_clients")
Answer = TypeVar("Answer", bound=BaseModel)
MAX_REASON = 200


def return_key(return_id: str) -> str:
    """The idempotency key of a return's refund: the return's id."""
    return return_id


def _detail(response: ServiceResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text()[:200]
    return str(body.get("detail") or body)[:500] if isinstance(body, dict) else str(body)[:500]


def _parsed(model: type[Answer], response: ServiceResponse) -> Answer:
    try:
        return model.model_validate_json(response.body)
    except ValidationError as exc:
        log.warning("the %s service answered outside its contract: %s", response.target, exc)
        raise ServiceResponseError(response) from exc


def _refused_for_good(status: int) -> bool:
    """A 4xx that repeating cannot change (not 401/403/408/409/425/429), as in `clients`."""
    return 400 <= status < 500 and status not in (401, 403, 408, 409, 425, 429)


async def restock_return(
    catalog: Catalog, *, return_id: str, order_id: str, items: Sequence[dict[str, Any]]
) -> ReturnRestockOut:
    """Put a return's lines back on hand at the catalog, once (by the return id)."""
    try:
        request = ReturnRestockIn(
            order_id=order_id,
            items=[
                ReservationItemIn(product_id=i["product_id"], quantity=i["quantity"]) for i in items
            ],
        )
    except ValidationError as exc:
        raise Rejected(f"the catalog would refuse the restock of {return_id}: {exc}") from exc
    response = await catalog.call(
        "POST",
        f"/returns/{return_id}",
        json=request.model_dump(mode="json"),
        idempotent=True,
    )
    if response.status in (200, 201):
        return _parsed(ReturnRestockOut, response)
    if response.status == 409:
        raise Retry(f"the catalog is busy with the restock of {return_id}")
    if _refused_for_good(response.status):
        raise Rejected(f"the catalog refused the restock of {return_id}: {_detail(response)}")
    raise ServiceResponseError(response)


async def refund_return(
    payments: Payments,
    *,
    return_id: str,
    payment_id: str,
    amount: int,
    currency: str,
    reason: str,
) -> RefundOut:
    """Refund `amount` of a payment for a return, once (the return id is the key)."""
    try:
        request = RefundIn(
            amount=MoneyIn(amount=amount, currency=currency), reason=reason[:MAX_REASON]
        )
    except ValidationError as exc:
        raise Rejected(f"payments would refuse the refund of {return_id}: {exc}") from exc
    response = await payments.call(
        "POST",
        f"/{payment_id}/refunds",
        json=request.model_dump(mode="json", exclude_unset=True),
        idempotency_key=return_key(return_id),
    )
    if response.status in (200, 201):
        refund = _parsed(RefundOut, response)
        if refund.status != "succeeded":  # with the provider still, or failed: ask again
            raise Retry(f"the refund of return {return_id} is {refund.status}")
        return refund
    if response.status == 409:
        raise Retry(f"the refund of return {return_id} is still being processed")
    if _refused_for_good(response.status):
        raise Rejected(f"payments refused the refund of return {return_id}: {_detail(response)}")
    raise ServiceResponseError(response)
