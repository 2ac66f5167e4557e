"""Contract tests of the event schemas: each class carries its type, the wire is unchanged.

An event's data class says which type and version it is (`TYPE`, `VERSION`), and
`SCHEMAS` is read off those classes; the outbox takes the data and nothing else. The
envelopes below are the bytes the producers wrote when they still passed a type
string and a dict of their own: the same keys, in the same order, with the same values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import MetaData, select

from mercato.catalog.inventory.rules import StockLevel, price_changed_event, stock_changed_event
from mercato.chassis.data.database import Database
from mercato.chassis.events import Event, EventTables, Outbox, event_tables
from mercato.contracts.events import (
    PRODUCERS,
    SCHEMAS,
    EventData,
    Line,
    Money,
    OrderFailed,
    OrderPlaced,
    ProductChanged,
    ProductCreated,
    TokenRevoked,
    validate,
)
from mercato.orders.states import Status

EVERY_TYPE = [
    "user.registered",
    "user.roles_changed",
    "user.profile_updated",
    "auth.token_revoked",
    "product.created",
    "product.updated",
    "product.deleted",
    "product.stock_changed",
    "product.price_changed",
    "inventory.reserved",
    "inventory.released",
    "inventory.committed",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "order.placed",
    "order.confirmed",
    "order.cancelled",
    "order.failed",
    "order.returned",
    "shipment.created",
    "shipment.shipped",
    "shipment.delivered",
    "return.requested",
    "return.accepted",
    "return.rejected",
    "return.received",
]


@pytest.fixture
async def outbox_tables(tmp_path: Path) -> AsyncIterator[tuple[Database, EventTables]]:
    database = Database("sqlite+aiosqlite:///" + str(tmp_path / "producer.db"))
    metadata = MetaData()
    tables = event_tables(metadata)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database, tables
    await database.dispose()


def test_every_schema_is_the_class_that_declares_its_type_and_version() -> None:
    assert [event_type for event_type, _ in SCHEMAS] == EVERY_TYPE
    for (event_type, version), schema in SCHEMAS.items():
        assert (event_type, version) == (schema.TYPE, schema.VERSION)
        assert PRODUCERS[event_type]  # each type has the one service allowed to publish it
    assert SCHEMAS[("product.created", 1)] is ProductCreated
    assert ProductChanged not in SCHEMAS.values()  # shares fields, is the data of no type


async def test_data_of_no_type_is_refused(
    outbox_tables: tuple[Database, EventTables],
) -> None:
    database, tables = outbox_tables
    data = ProductChanged(
        product_id="p", sku="S", title="T", price=Money(amount=1, currency="USD"), stock=1
    )
    async with database.session() as session:
        with pytest.raises(TypeError, match="ProductChanged is the data of no event type"):
            await Outbox(tables, source="catalog").add(session, data, subject="p")


def _envelope(event: Event, data: bytes) -> str:
    """The outbox payload of `event` as producers wrote it, `data` being its JSON."""
    occurred_at = orjson.dumps(event.occurred_at, option=orjson.OPT_UTC_Z).decode()
    return (
        f'{{"id":"{event.id}","type":"{event.type}","version":{event.version},'
        f'"occurred_at":{occurred_at},"source":"{event.source}","subject":"{event.subject}",'
        f'"trace":null,"data":{data.decode()}}}'
    )


WIRE: list[tuple[str, EventData, str, bytes]] = [
    (
        "orders",
        OrderPlaced(
            order_id="o1",
            user_id="u1",
            # a reserved line as the saga stores it: the title rides along (extra="allow")
            items=[
                Line.model_validate(
                    {
                        "product_id": "p1",
                        "title": "Tea",
                        "quantity": 2,
                        "unit_price": {"amount": 450, "currency": "EUR"},
                    }
                )
            ],
            total=Money(amount=900, currency="EUR"),
        ),
        "o1",
        b'{"order_id":"o1","user_id":"u1","items":[{"product_id":"p1","quantity":2,'
        b'"unit_price":{"amount":450,"currency":"EUR"},"title":"Tea"}],'
        b'"total":{"amount":900,"currency":"EUR"}}',
    ),
    (
        "orders",
        OrderFailed(order_id="o1", user_id="u1", status=Status.PAYMENT_FAILED, reason="declined"),
        "o1",
        b'{"order_id":"o1","user_id":"u1","status":"payment_failed","reason":"declined"}',
    ),
    (
        "auth",
        TokenRevoked(jti="j1", user_id="u1", expires_at=1700000000, reason="logout"),
        "u1",
        b'{"jti":"j1","user_id":"u1","expires_at":1700000000.0,"reason":"logout"}',
    ),
    (
        "catalog",
        ProductCreated(
            product_id="p1",
            sku="TEA",
            title="Tea",
            price=Money(amount=450, currency="EUR"),
            stock=3,
        ),
        "p1",
        b'{"product_id":"p1","sku":"TEA","title":"Tea","price":{"amount":450,"currency":"EUR"},'
        b'"stock":3,"category":null}',
    ),
    (
        "catalog",
        stock_changed_event(StockLevel(product_id="p1", sku="TEA", on_hand=10, reserved=4)),
        "p1",
        b'{"product_id":"p1","sku":"TEA","on_hand":10,"reserved":4,"available":6}',
    ),
    (
        "catalog",
        price_changed_event(product_id="p1", sku="TEA", old=(450, "EUR"), new=(400, "EUR")),
        "p1",
        b'{"product_id":"p1","sku":"TEA","old_price":{"amount":450,"currency":"EUR"},'
        b'"new_price":{"amount":400,"currency":"EUR"}}',
    ),
]


@pytest.mark.parametrize(("source", "data", "subject", "wire"), WIRE)
async def test_the_wire_envelope_is_what_producers_wrote(
    outbox_tables: tuple[Database, EventTables],
    source: str,
    data: EventData,
    subject: str,
    wire: bytes,
) -> None:
    database, tables = outbox_tables
    async with database.transaction() as session:
        event = await Outbox(tables, source=source).add(session, data, subject=subject)
    async with database.session() as session:
        [payload] = list(await session.scalars(select(tables.outbox.c.payload)))
    assert (event.type, event.version, event.source) == (type(data).TYPE, 1, source)
    assert payload == _envelope(event, wire)
    assert validate(event.type, event.version, orjson.loads(wire)) == data
