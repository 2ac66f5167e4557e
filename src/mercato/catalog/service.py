"""The catalog's operations: plain functions that change products and write events.

Every change to a product writes its event (`product.created`, `product.updated`,
`product.deleted`, v1, data as in `mercato.contracts.events`) to the outbox with the
same session, so the event exists if and only if the change was committed. A change
that changes nothing writes no event. A change of price also writes
`product.price_changed`, and a change of the units on hand `product.stock_changed`.
The `stock` an editor writes is what is on hand; it may not go below what is
reserved for orders (422), and a product with reserved units cannot be deleted (409).
Every write also counts the change of the products' words in the search vocabulary
(`catalog.vocabulary`), in the same transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import store
from mercato.catalog.bulk import insert_products
from mercato.catalog.dummyjson import category_name
from mercato.catalog.inventory.rules import StockLevel, price_changed_event, stock_changed_event
from mercato.catalog.models import Category, CategoryRow, Product, ProductFields, ProductRow
from mercato.catalog.schemas import (
    CategoryIn,
    CategoryOut,
    ImportResult,
    ProductIn,
    ProductPatch,
)
from mercato.catalog.vocabulary import count_words, product_words, word_changes
from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import Conflict, NotFound, Unprocessable, field_error
from mercato.contracts.events import (
    EventData,
    ProductChanged,
    ProductCreated,
    ProductDeleted,
    ProductUpdated,
)
from mercato.contracts.events import Money as EventMoney

__all__ = [
    "ImportProgress",
    "changed_fields",
    "create_category",
    "create_product",
    "delete_product",
    "fields_of",
    "get_product",
    "import_products",
    "list_categories",
    "product_changed",
    "read_product",
    "replace_product",
    "update_product",
    "write_products",
    "writing",
]


class ImportProgress(Protocol):
    """Told how a long import goes (`mercato import-products` shows it as a bar)."""

    def stage(self, description: str, total: int | None = None, unit: str = "") -> None:
        """A stage begins: `total` items of `unit`, if known."""

    def update(self, done: int) -> None:
        """`done` items of the stage are done."""


def _now() -> datetime:
    return datetime.now(UTC)


def fields_of(product_in: ProductIn) -> ProductFields:
    """The columns a whole product input sets."""
    return ProductFields(
        sku=product_in.sku,
        title=product_in.title,
        brand=product_in.brand or None,
        description=product_in.description,
        price_amount=product_in.price.amount,
        currency=product_in.price.currency,
        category=product_in.category,
        tags=list(product_in.tags),
        attributes=dict(product_in.attributes),
        images=list(product_in.images),
        thumbnail=product_in.thumbnail,
        on_hand=product_in.stock,
        rating=product_in.rating,
    )


def changed_fields(patch: ProductPatch) -> dict[str, Any]:
    """The columns a partial change sets."""
    changes = patch.changes()
    price = changes.pop("price", None)
    if price is not None:
        changes["price_amount"] = price.amount
        changes["currency"] = price.currency
    if "brand" in changes:
        changes["brand"] = changes["brand"] or None
    if "stock" in changes:
        changes["on_hand"] = changes.pop("stock")
    return changes


def _product_event(kind: type[ProductChanged], product: Product) -> ProductChanged:
    return kind(
        product_id=product.id,
        sku=product.sku,
        title=product.title,
        price=EventMoney(amount=product.price_amount, currency=product.currency),
        stock=product.available,
        category=product.category,
    )


async def product_changed(session: AsyncSession, *, outbox: Outbox, product: Product) -> None:
    """The event of a change that is not about price or stock (the product's pictures)."""
    await outbox.add(session, _product_event(ProductUpdated, product), subject=product.id)


_Before = tuple[int, str, int]


def _before(product: Product) -> _Before:
    return product.price_amount, product.currency, product.on_hand


def _update_events(product: Product, before: _Before) -> list[tuple[EventData, str]]:
    """The events of an edit: `product.updated`, and what moved among price and stock."""
    events: list[tuple[EventData, str]] = [(_product_event(ProductUpdated, product), product.id)]
    old_price, new_price = before[:2], (product.price_amount, product.currency)
    if old_price != new_price:
        price = price_changed_event(
            product_id=product.id, sku=product.sku, old=old_price, new=new_price
        )
        events.append((price, product.id))
    if before[2] != product.on_hand:
        level = StockLevel(product.id, product.sku, product.on_hand, product.reserved)
        events.append((stock_changed_event(level), product.id))
    return events


def _below_reserved(product: Product, fields: Mapping[str, Any]) -> bool:
    on_hand = fields.get("on_hand")
    return on_hand is not None and on_hand < product.reserved


@asynccontextmanager
async def writing(session: AsyncSession) -> AsyncIterator[None]:
    """Commit the block's writes; a constraint the database enforces becomes a Conflict."""
    try:
        yield
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict("The change conflicts with a concurrent one; retry.") from None


def _apply(product: Product, fields: Mapping[str, Any], now: datetime) -> bool:
    changed = False
    for name, value in fields.items():
        if getattr(product, name) != value:
            setattr(product, name, value)
            changed = True
    if changed:
        product.updated_at = now
    return changed


async def _check_refs(
    session: AsyncSession, fields: Mapping[str, Any], product: Product | None = None
) -> None:
    sku = fields.get("sku")
    if sku is not None and (product is None or sku != product.sku):
        other = await store.get_product_by_sku(session, sku)
        if other is not None:
            raise Conflict(f"SKU {sku} is already used by product {other.id}.")
    category = fields.get("category")
    if category is not None and await store.get_category(session, category) is None:
        raise Unprocessable(
            f"There is no category {category}.",
            errors=[field_error("category", "no such category")],
        )


async def get_product(session: AsyncSession, *, product_id: str) -> Product:
    """The product with this id; NotFound otherwise."""
    product = await store.get_product(session, product_id)
    if product is None:
        raise NotFound(f"There is no product {product_id}.")
    return product


async def read_product(database: Database, *, product_id: str) -> ProductRow:
    """The product with this id as a plain row, to show; NotFound otherwise."""
    row = await store.read_product(database.reader, product_id)
    if row is None:
        raise NotFound(f"There is no product {product_id}.")
    return row


async def _locked_product(session: AsyncSession, product_id: str) -> Product:
    """The product, its row locked until the transaction ends (PostgreSQL); NotFound."""
    product = await store.get_product(session, product_id, for_update=True)
    if product is None:
        raise NotFound(f"There is no product {product_id}.")
    return product


async def create_product(
    session: AsyncSession, *, outbox: Outbox, product_in: ProductIn
) -> Product:
    """Create a product; Conflict when its SKU is taken."""
    await begin_write(session)
    fields = fields_of(product_in)
    await _check_refs(session, fields)
    now = _now()
    product = Product(id=str(uuid.uuid4()), created_at=now, updated_at=now, reserved=0, **fields)
    async with writing(session):
        session.add(product)
        await count_words(session, word_changes(frozenset(), product_words(fields)))
        await outbox.add(session, _product_event(ProductCreated, product), subject=product.id)
    return product


async def update_product(
    session: AsyncSession, *, outbox: Outbox, product_id: str, changes: Mapping[str, Any]
) -> Product:
    """Change some fields of a product (all of them for a replacement)."""
    await begin_write(session)
    product = await _locked_product(session, product_id)
    await _check_refs(session, changes, product)
    if _below_reserved(product, changes):
        raise Unprocessable(
            f"Stock may not go below the {product.reserved} units reserved for orders.",
            errors=[field_error("stock", "below reserved")],
        )
    before, words = _before(product), product_words(product)
    async with writing(session):
        if _apply(product, changes, _now()):
            await count_words(session, word_changes(words, product_words(product)))
            await outbox.add_many(session, _update_events(product, before))
    return product


async def replace_product(
    session: AsyncSession, *, outbox: Outbox, product_id: str, product_in: ProductIn
) -> Product:
    """Replace every editable field of a product."""
    fields = fields_of(product_in)
    return await update_product(session, outbox=outbox, product_id=product_id, changes=fields)


async def delete_product(session: AsyncSession, *, outbox: Outbox, product_id: str) -> None:
    """Delete a product; NotFound when there is none, Conflict while units are reserved."""
    await begin_write(session)
    product = await _locked_product(session, product_id)
    if product.reserved > 0:
        raise Conflict(f"Product {product_id} has {product.reserved} units reserved for orders.")
    data = ProductDeleted(product_id=product.id, sku=product.sku)
    async with writing(session):
        await count_words(session, word_changes(product_words(product), frozenset()))
        await session.delete(product)
        await outbox.add(session, data, subject=product.id)


async def list_categories(database: Database) -> list[CategoryRow]:
    """Every category with its number of products (a direct read)."""
    return await store.categories(database.reader)


async def create_category(session: AsyncSession, *, category_in: CategoryIn) -> CategoryOut:
    """Create a category; Conflict when the slug exists."""
    await begin_write(session)
    if await store.get_category(session, category_in.slug) is not None:
        raise Conflict(f"Category {category_in.slug} already exists.")
    async with writing(session):
        session.add(Category(slug=category_in.slug, name=category_in.name, created_at=_now()))
    return CategoryOut(slug=category_in.slug, name=category_in.name, product_count=0)


async def _add_missing_categories(
    session: AsyncSession, products: Sequence[ProductFields], now: datetime
) -> None:
    wanted = {p["category"] for p in products if p["category"] is not None}
    missing = wanted - await store.existing_categories(session, wanted)
    for slug in sorted(missing):
        session.add(Category(slug=slug, name=category_name(slug), created_at=now))
    await session.flush()


async def import_products(
    session: AsyncSession,
    *,
    outbox: Outbox,
    products: Sequence[ProductFields],
    if_empty: bool = False,
    then: Callable[[AsyncSession, Mapping[str, str]], Awaitable[None]] | None = None,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Upsert validated products by SKU in one transaction; with `if_empty`, only into none.

    `then` adds writes of its own to the transaction, given the id of each product
    the import created, by SKU (the demo catalog's pictures).
    """
    await begin_write(session)
    await store.lock_products(session)
    if if_empty and await store.count_products(session) > 0:
        await session.rollback()
        return ImportResult()
    result = ImportResult()
    async with writing(session):
        if progress is not None:
            progress.stage("writing products", len(products), "rows")
        created = await write_products(session, outbox=outbox, products=products, result=result)
        if then is not None:
            await session.flush()
            await then(session, created)
        if progress is not None:
            progress.update(len(products))
            progress.stage("committing")
    return result


async def write_products(
    session: AsyncSession,
    *,
    outbox: Outbox,
    products: Sequence[ProductFields],
    result: ImportResult,
    first_index: int = 0,
) -> dict[str, str]:
    """Upsert `products` in the caller's write transaction, counting into `result`.

    New products are inserted in bulk (`catalog.bulk`), changed ones updated one by
    one with their events; the vocabulary is counted once. Gives the ids of the
    products it created, by SKU. `first_index` is the index of the first product in
    its file, for the errors' indexes.
    """
    now = _now()
    await _add_missing_categories(session, products, now)
    existing = await store.products_by_sku(session, [p["sku"] for p in products])
    _check_reserved(products, existing, first_index)
    words: Counter[str] = Counter()
    new: list[ProductFields] = []
    events: list[tuple[EventData, str]] = []
    for fields in products:
        product = existing.get(fields["sku"])
        if product is None:
            new.append(fields)
            words.update(product_words(fields))
            continue
        before, old_words = _before(product), product_words(product)
        if _apply(product, fields, now):
            words.update(word_changes(old_words, product_words(product)))
            events += _update_events(product, before)
            result.updated += 1
        else:
            result.unchanged += 1
    # Edits flushed together, then their events: an event added per product made
    # the session flush that product alone first (autoflush).
    await session.flush()
    await outbox.add_many(session, events)
    created = await insert_products(session, outbox=outbox, products=new, now=now)
    await count_words(session, words)
    result.created += len(created)
    return created


def _check_reserved(
    products: Sequence[ProductFields], existing: Mapping[str, Product], first_index: int
) -> None:
    """422 naming each imported product whose stock is below its reserved units."""
    short = [
        (index, existing[fields["sku"]])
        for index, fields in enumerate(products, start=first_index)
        if fields["sku"] in existing and _below_reserved(existing[fields["sku"]], fields)
    ]
    if short:
        raise Unprocessable(
            "Nothing was imported; stock below the units reserved for orders in "
            + ", ".join(f"item {index}" for index, _ in short[:10])
            + ".",
            errors=[field_error("stock", "below reserved", index=index) for index, _ in short],
        )
