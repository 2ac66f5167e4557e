"""HTTP routes of the payments service: thin, parse and delegate to the domain modules.

Charges and refunds answer 201 with the payment or refund; a retry with the same
Idempotency-Key and body answers 201 with the very same document again, marked by
the `Idempotent-Replayed: true` header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from mercato.chassis.security.tokens import AdminOrService, CurrentUser, UserCaller
from mercato.chassis.web.dependencies import OutboxDep, SessionDep, context_of, runtime_of
from mercato.chassis.web.idempotency import IdempotencyKey, key_required
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.payments import charges, refunds, service
from mercato.payments.context import PaymentsContext, PaymentsRuntime
from mercato.payments.provider import ProviderClient
from mercato.payments.schemas import (
    ChargeIn,
    MethodIn,
    MethodList,
    MethodOut,
    PaymentOut,
    PaymentPage,
    RefundIn,
    RefundList,
    RefundOut,
    method_body,
    payment_body,
    refund_body,
)

__all__ = ["REPLAYED", "router"]

router = APIRouter(prefix="/api/payments", tags=["payments"], route_class=StrictJsonRoute)
REPLAYED = "Idempotent-Replayed"


async def provider_of(ctx: Annotated[PaymentsContext, Depends(context_of)]) -> ProviderClient:
    """FastAPI dependency: the payment provider, bounded by its deadline."""
    return ctx.provider


async def lease_of(runtime: Annotated[PaymentsRuntime, Depends(runtime_of)]) -> float:
    """FastAPI dependency: how long an unfinished attempt is left alone."""
    return runtime.settings.charge_lease_seconds


CardHolder = UserCaller
ProviderDep = Annotated[ProviderClient, Depends(provider_of)]
LeaseDep = Annotated[float, Depends(lease_of)]
KEY_REQUIRED = key_required("Unique per intended operation.")
MethodId = Annotated[str, Path(description="The saved card's id.")]
PaymentId = Annotated[str, Path(description="The payment's id.")]
NO_METHOD = "No such saved card, or not the caller's."
NO_PAYMENT = "No such payment, or not the caller's."
IN_PROGRESS = "a request with this key is still being handled"
KEY_REUSED = "or a key first used with another request"


@router.post(
    "/methods",
    status_code=201,
    summary="Save a card",
    responses=problems(
        {
            409: "The caller has as many saved cards as allowed; delete one first.",
            422: "Invalid fields: the card number, expiry or CVC.",
            502: "The payment provider refused the card.",
            504: "The payment provider did not answer in time.",
        }
    ),
)
async def add_method(
    principal: CardHolder, method_in: MethodIn, session: SessionDep, provider: ProviderDep
) -> MethodOut:
    """Validate a card, tokenize it and keep only brand, last4 and expiry."""
    method = await service.add_method(
        session, provider=provider, user_id=principal.subject, method_in=method_in
    )
    return method_body(method)


@router.get("/methods", summary="List your saved cards")
async def list_methods(principal: CardHolder, session: SessionDep) -> MethodList:
    """The caller's saved cards, newest first."""
    methods = await service.list_methods(session, user_id=principal.subject)
    return MethodList(items=[method_body(method) for method in methods])


@router.get(
    "/methods/{method_id}", summary="Read a saved card", responses=problems({404: NO_METHOD})
)
async def read_method(
    method_id: MethodId, principal: CurrentUser, session: SessionDep
) -> MethodOut:
    """One of the caller's cards (admins and services: anyone's); 404 otherwise."""
    method = await service.get_method(session, principal=principal, method_id=method_id)
    return method_body(method)


@router.delete(
    "/methods/{method_id}",
    status_code=204,
    summary="Delete a saved card",
    responses=problems({404: NO_METHOD}),
)
async def delete_method(
    method_id: MethodId, principal: CardHolder, session: SessionDep
) -> Response:
    """Forget one of the caller's cards; 404 when it is not theirs."""
    await service.delete_method(session, user_id=principal.subject, method_id=method_id)
    return Response(status_code=204)


@router.post(
    "/charges",
    status_code=201,
    summary="Charge a saved card (service, admin)",
    openapi_extra=KEY_REQUIRED,
    responses=problems(
        {
            404: "The user has no such saved card.",
            409: f"{IN_PROGRESS.capitalize()}; retry.",
            422: f"Invalid fields, {KEY_REUSED}.",
        }
    ),
)
async def charge_card(
    *,
    _: AdminOrService,
    key: IdempotencyKey,
    charge_in: ChargeIn,
    response: Response,
    session: SessionDep,
    provider: ProviderDep,
    outbox: OutboxDep,
    lease: LeaseDep,
) -> PaymentOut:
    """Charge once per Idempotency-Key; `status` says whether the provider took it."""
    payment, replayed = await charges.charge(
        session,
        provider=provider,
        outbox=outbox,
        key=key,
        charge_in=charge_in,
        lease_seconds=lease,
    )
    if replayed:
        response.headers[REPLAYED] = "true"
    return payment_body(payment)


@router.get(
    "",
    summary="List payments",
    responses=problems({403: "Only administrators and services list another user's payments."}),
)
async def list_payments(
    principal: CurrentUser,
    session: SessionDep,
    user_id: Annotated[str | None, Query(max_length=100, description="Admins only.")] = None,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> PaymentPage:
    """The caller's payments (admins: `user_id`'s), newest first, keyset paged."""
    found = await service.list_payments(
        session, principal=principal, user_id=user_id, limit=limit, cursor=cursor
    )
    return PaymentPage(
        items=[payment_body(payment) for payment in found.items], next_cursor=found.next_cursor
    )


@router.get("/{payment_id}", summary="Read a payment", responses=problems({404: NO_PAYMENT}))
async def read_payment(
    payment_id: PaymentId, principal: CurrentUser, session: SessionDep
) -> PaymentOut:
    """One of the caller's payments (admins and services: any); 404 otherwise."""
    return payment_body(
        await service.get_payment(session, principal=principal, payment_id=payment_id)
    )


@router.post(
    "/{payment_id}/refunds",
    status_code=201,
    summary="Refund a payment (admin, service)",
    openapi_extra=KEY_REQUIRED,
    responses=problems(
        {
            404: "No such payment.",
            409: "Only a succeeded payment can be refunded, the payment changed concurrently, "
            f"or {IN_PROGRESS}; retry.",
            422: "Invalid fields, more than is left to refund, another currency than the "
            f"payment's, {KEY_REUSED}.",
            502: "The provider did not make the refund (`refund_id` names it); retry with "
            "the same key.",
            504: "The provider did not answer in time; retry with the same key.",
        }
    ),
)
async def refund_payment(
    payment_id: PaymentId,
    *,
    _: AdminOrService,
    key: IdempotencyKey,
    refund_in: RefundIn,
    response: Response,
    session: SessionDep,
    provider: ProviderDep,
    outbox: OutboxDep,
    lease: LeaseDep,
) -> RefundOut:
    """Refund part (or by default all that is left) of a succeeded payment, once per key."""
    made, replayed = await refunds.refund(
        session,
        provider=provider,
        outbox=outbox,
        key=key,
        payment_id=payment_id,
        refund_in=refund_in,
        lease_seconds=lease,
    )
    if replayed:
        response.headers[REPLAYED] = "true"
    return refund_body(made)


@router.get(
    "/{payment_id}/refunds",
    summary="List a payment's refunds",
    responses=problems({404: NO_PAYMENT}),
)
async def list_refunds(
    payment_id: PaymentId, principal: CurrentUser, session: SessionDep
) -> RefundList:
    """The refunds of a payment the caller may see, oldest first."""
    found = await service.list_refunds(session, principal=principal, payment_id=payment_id)
    return RefundList(items=[refund_body(item) for item in found])
