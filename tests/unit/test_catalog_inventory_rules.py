"""Unit tests of the catalog's inventory rules: merging lines, problems, expiry, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mercato.catalog.inventory.rules import (
    Line,
    OutOfStock,
    Shortage,
    StockLevel,
    is_expired,
    locking_order,
    merge_lines,
    out_of_stock,
    price_changed_event,
    released_event,
    stock_changed_event,
    unknown_products,
)
from mercato.catalog.listing import MAX_IDS, parse_ids
from mercato.catalog.schemas import ReservationItemIn
from mercato.chassis.web.errors import ProblemError
from mercato.contracts.events import validate


def items(*pairs: tuple[str, int]) -> list[ReservationItemIn]:
    return [ReservationItemIn(product_id=p, quantity=q) for p, q in pairs]


def test_merge_adds_up_a_product_named_twice_at_its_first_index() -> None:
    lines = merge_lines(items(("b", 1), ("a", 2), ("b", 3)))
    assert lines == [Line("b", 4, 0), Line("a", 2, 1)]


def test_rows_are_locked_in_product_id_order() -> None:
    lines = [Line("c", 1, 0), Line("a", 1, 1), Line("b", 1, 2)]
    assert [line.product_id for line in locking_order(lines)] == ["a", "b", "c"]


def test_unknown_products_name_their_items() -> None:
    lines = [Line("a", 1, 0), Line("x", 1, 1), Line("y", 2, 2)]
    assert unknown_products(lines, {"a", "x", "y"}) is None
    problem = unknown_products(lines, ["a"])
    assert problem is not None and problem.status == 422
    assert [e["field"] for e in problem.body()["errors"]] == [
        "items.1.product_id",
        "items.2.product_id",
    ]


def test_out_of_stock_is_a_409_listing_every_short_line() -> None:
    problem = out_of_stock([Shortage(Line("b", 5, 2), 1), Shortage(Line("a", 3, 0), 0)])
    assert isinstance(problem, OutOfStock) and isinstance(problem, ProblemError)
    body = problem.body()
    assert (body["status"], body["type"]) == (409, "https://mercato.dev/problems/out-of-stock")
    assert [(e["field"], e["product_id"], e["available"]) for e in body["errors"]] == [
        ("items.0.quantity", "a", 0),
        ("items.2.quantity", "b", 1),
    ]


def test_a_reservation_expires_at_its_instant() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert is_expired(now, now)
    assert is_expired(now - timedelta(seconds=1), now)
    assert not is_expired(now + timedelta(microseconds=1), now)


def test_event_data_matches_the_contracts() -> None:
    level = StockLevel(product_id="p", sku="S", on_hand=10, reserved=4)
    assert level.available == 6
    stock = stock_changed_event(level).model_dump(mode="json")
    assert stock == {"product_id": "p", "sku": "S", "on_hand": 10, "reserved": 4, "available": 6}
    assert validate("product.stock_changed", 1, stock) is not None
    price = price_changed_event(
        product_id="p", sku="S", old=(100, "USD"), new=(90, "USD")
    ).model_dump(mode="json")
    assert validate("product.price_changed", 1, price) is not None
    assert price["new_price"] == {"amount": 90, "currency": "USD"}
    released = released_event("o-1", "expired").model_dump(mode="json")
    assert validate("inventory.released", 1, released) is not None


def test_ids_are_split_trimmed_and_deduplicated() -> None:
    assert parse_ids(None) is None
    assert parse_ids("") == ()
    assert parse_ids(" a, b,,a ,c") == ("a", "b", "c")
    assert len(parse_ids(",".join(f"id{n}" for n in range(MAX_IDS))) or ()) == MAX_IDS
    with pytest.raises(ProblemError) as refused:
        parse_ids(",".join(f"id{n}" for n in range(MAX_IDS + 1)))
    assert refused.value.status == 422
