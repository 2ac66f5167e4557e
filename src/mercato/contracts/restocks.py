"""The catalog's restock of a return's lines, as the orders service calls it.

When a return's lines are back in the warehouse, orders puts them back on hand with
`POST /api/catalog/returns/{return_id}` and a `ReturnRestockIn`; the answer is a
`ReturnRestockOut` (201 the first time, 200 with the same document for a repeat).
The return id makes the call idempotent: the catalog keeps one restock per return,
so a retried call never adds the units twice; the same id with other lines is 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.contracts.inventory import ReservationItemIn

__all__ = ["RESTOCK_EXAMPLE", "RestockedLine", "ReturnId", "ReturnRestockIn", "ReturnRestockOut"]

ReturnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
ORDER = "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d"
PRODUCT = "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f"
RESTOCK_EXAMPLE: dict[str, Any] = {
    "return_id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "order_id": ORDER,
    "items": [{"product_id": PRODUCT, "quantity": 1, "restocked": True}],
    "created_at": "2026-01-09T10:00:00Z",
}


class ReturnRestockIn(BaseModel):
    """The lines of a return to put back on hand, and the order they came from."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"order_id": ORDER, "items": [{"product_id": PRODUCT, "quantity": 1}]}]
        },
    )

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The order the lines were sold with."
    )
    items: list[ReservationItemIn] = Field(
        min_length=1, max_length=100, description="The returned lines: product and units."
    )


class RestockedLine(BaseModel):
    """One returned line and whether its units went back on hand."""

    product_id: str = Field(description="A catalog product's id.")
    quantity: int = Field(description="How many units came back.")
    restocked: bool = Field(
        description="False when the product is no longer in the catalog (nothing to add to)."
    )


class ReturnRestockOut(BaseModel):
    """A return's restock: the lines put back on hand, once per return."""

    model_config = ConfigDict(json_schema_extra={"examples": [RESTOCK_EXAMPLE]})

    return_id: str = Field(description="The return it restocked.")
    order_id: str = Field(description="The order the lines were sold with.")
    items: list[RestockedLine] = Field(description="The lines, one per product.")
    created_at: datetime = Field(description="When the units went back on hand.")
