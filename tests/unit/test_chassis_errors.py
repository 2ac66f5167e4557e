"""Unit tests of `field_error`, the one way to name an invalid field in a problem."""

from __future__ import annotations

import orjson

from mercato.chassis.web.errors import Unprocessable, field_error


def test_a_field_error_names_the_field_where_it_was_sent_and_why() -> None:
    assert orjson.dumps(field_error("cart", "add items before checkout")) == (
        b'{"field":"cart","in":"body","message":"add items before checkout"}'
    )
    assert orjson.dumps(field_error("cursor", "not a valid cursor", location="query")) == (
        b'{"field":"cursor","in":"query","message":"not a valid cursor"}'
    )


def test_details_follow_the_message_in_order_and_the_type_comes_last() -> None:
    error = field_error(
        "items.p1.product_id",
        "priced in EUR",
        type="currency_mismatch",
        product_id="p1",
        available=3,
    )
    assert orjson.dumps(error) == (
        b'{"field":"items.p1.product_id","in":"body","message":"priced in EUR",'
        b'"product_id":"p1","available":3,"type":"currency_mismatch"}'
    )


def test_a_problem_lists_its_field_errors() -> None:
    problem = Unprocessable(
        "Invalid fields: since", errors=[field_error("since", "out of range", type="value_error")]
    )
    assert problem.body()["errors"] == [
        {"field": "since", "in": "body", "message": "out of range", "type": "value_error"}
    ]
