"""Unit tests of what an order's page shows of its goods (`mercato.web.fulfilment_view`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mercato.web.api import orders, shipping
from mercato.web.api.backend import ApiError, FieldError
from mercato.web.fulfilment_view import goods_view, returnable
from mercato.web.pages.returns import refusal

NOW = datetime(2026, 12, 6, 10, 51, tzinfo=UTC).isoformat()
PRICE = {"amount": 500, "currency": "USD"}


def _order(*shipments: dict[str, Any], fulfilment: str = "delivered") -> orders.Order:
    return orders.Order.model_validate(
        {
            "id": "e68fe604-faa9-4ee8-ae00-b5cdbea606be",
            "status": "confirmed",
            "items": [
                {
                    "product_id": "p1",
                    "title": "Tea",
                    "quantity": 3,
                    "unit_price": PRICE,
                    "line_total": {"amount": 1500, "currency": "USD"},
                },
                {
                    "product_id": "p2",
                    "title": "Cup",
                    "quantity": 1,
                    "unit_price": PRICE,
                    "line_total": PRICE,
                },
            ],
            "total": {"amount": 2000, "currency": "USD"},
            "shipping_address": {
                "name": "Ann",
                "line1": "Main St 1",
                "city": "Berlin",
                "country": "DE",
            },
            "fulfilment": fulfilment,
            "shipments": list(shipments),
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


def _shipment(status: str, url: str | None = None, **items: int) -> dict[str, Any]:
    return {
        "id": f"s-{status}",
        "status": status,
        "items": [{"product_id": p, "quantity": q} for p, q in items.items()],
        "carrier": "DHL",
        "tracking_number": "JD1",
        "tracking_url": url,
    }


def _return(status: str, **items: int) -> shipping.Return:
    return shipping.Return.model_validate(
        {
            "id": f"r-{status}",
            "order_id": "o",
            "status": status,
            "items": [{"product_id": p, "quantity": q} for p, q in items.items()],
            "reason": "why",
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://track.example/1", "https://track.example/1"),
        ("http://track.example/1", "http://track.example/1"),
        ("javascript:alert(1)", None),
        ("data:text/html,x", None),
        ("https:///no-host", None),
        (None, None),
    ],
)
def test_only_an_http_tracking_address_is_a_link(url: str | None, link: str | None) -> None:
    view = goods_view(_order(_shipment("shipped", url, p1=3)), (), csrf_token="t")
    assert view.shipments[0].tracking_url == link
    assert view.shipments[0].tracking_number == "JD1"


def test_what_may_go_back_is_delivered_less_the_returns_not_rejected() -> None:
    order = _order(_shipment("delivered", p1=2), _shipment("shipped", p1=1, p2=1))
    returns = [_return("requested", p1=1), _return("rejected", p1=2)]
    assert returnable(order, returns) == {"p1": 1}
    assert returnable(order, [_return("refunded", p1=2)]) == {}
    view = goods_view(order, returns, csrf_token="t")
    assert view.form is not None
    assert [(ln.title, ln.most) for ln in view.form.lines] == [("Tea", 1)]
    assert view.word == "Delivered"


def test_no_form_when_nothing_is_delivered_or_the_returns_are_unknown() -> None:
    shipped = _order(_shipment("shipped", p1=3), fulfilment="shipped")
    assert goods_view(shipped, (), csrf_token="t").form is None
    delivered = _order(_shipment("delivered", p1=3))
    unknown = goods_view(delivered, None, csrf_token="t")
    assert unknown.form is None and unknown.returns is None


def test_a_refused_post_keeps_its_line_even_with_nothing_left() -> None:
    order = _order(_shipment("delivered", p1=1))
    errors = {"quantity-p1": "Only 0 of Tea may still be returned."}
    view = goods_view(
        order,
        [_return("requested", p1=1)],
        csrf_token="t",
        values={"quantity-p1": "1", "reason": "late"},
        errors=errors,
    )
    assert view.form is not None
    [line] = view.form.lines
    assert (line.value, line.error, line.most) == ("1", errors["quantity-p1"], 0)
    assert view.form.reason == "late" and view.form.has_errors


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        ("Product p1 has not been delivered yet.", "Tea has not been delivered yet."),
        ("The return window of product p1 has closed.", "The return window of Tea has closed."),
        ("Only 0 of product p1 may still be returned.", "Only 0 of Tea may still be returned."),
    ],
)
def test_shippings_409_is_put_beside_the_line_it_names(detail: str, said: str) -> None:
    exc = ApiError("shipping", 409, "Conflict", detail)
    assert refusal(exc, ["p2", "p1"], {"p1": "Tea", "p2": "Cup"}) == ({"quantity-p1": said}, None)


def test_shippings_422_is_put_beside_the_field_it_names() -> None:
    errors = (FieldError("items.1.quantity", "too many"), FieldError("reason", "too long"))
    exc = ApiError("shipping", 422, "Unprocessable", "Bad.", errors)
    assert refusal(exc, ["p2", "p1"], {"p1": "Tea", "p2": "Cup"}) == (
        {"quantity-p1": "Tea: too many", "reason": "Reason: too long"},
        None,
    )
    vague = ApiError("shipping", 409, "Conflict", "Something else.")
    assert refusal(vague, ["p1"], {"p1": "Tea"}) == ({}, "Something else.")
