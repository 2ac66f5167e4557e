"""The catalog's tables: categories, products, stock reservations, outbox and inbox.

Products have two keys: `id`, the UUID that the API shows, and `pk`, an integer
surrogate that the API does not show (only a relevance cursor carries it, as the
place to continue after, `catalog.ranking`). SQLite's full-text index (`products_fts`,
an FTS5 table over the products' text, created with its triggers in the migration)
is keyed by `pk`, because an implicit rowid may change on VACUUM or on a table
rebuild while a declared INTEGER PRIMARY KEY does not. PostgreSQL's full-text
document is a generated `search` column (also created in the migration) that the
ORM does not map.

`search_words` is the search vocabulary: each word of the products' titles, brands,
categories and tags with the number of products that have it, kept by the service
layer in the transaction of every product write (`catalog.vocabulary`); search
reads it to complete prefixes and to correct typos. On PostgreSQL its words sort by
bytes (`COLLATE "C"`), so that a prefix is a range of the primary key.

Stock is two numbers per product: `on_hand` (on the shelf) and `reserved` (held for
orders that have not been committed yet); what shoppers can still buy is
`available = on_hand - reserved`. Check constraints keep `0 <= reserved <= on_hand`.
A reservation holds the lines of one order (`reservation_items`) until it is
committed, released or expires. A return's lines go back on hand once
(`return_restocks`, keyed by the return's id).

A product's uploaded pictures are `product_images`, each stored as its variants
(`image_variants`: the re-encoded bytes of each size, in the database so that every
replica serves every image, see docs/decisions.md); both go with their product.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import EventTables, event_tables
from mercato.contracts.inventory import ReservationStatus

__all__ = [
    "EVENTS",
    "MIGRATIONS",
    "CatalogBase",
    "Category",
    "CategoryRow",
    "FacetRow",
    "ImageRow",
    "ImageVariant",
    "ImportJob",
    "JsonValue",
    "ListedProductRow",
    "PkRow",
    "Product",
    "ProductFields",
    "ProductImage",
    "ProductRow",
    "Reservation",
    "ReservationItem",
    "ReservationStatus",
    "ReturnRestock",
    "SearchWord",
    "VariantRow",
    "VariantTagRow",
    "WordRow",
]

MIGRATIONS = Path(__file__).parent / "migrations"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonValue = JSON().with_variant(JSONB(), "postgresql")
WORD_MAX = 40  # longer words are left out of the search vocabulary


class CatalogBase(Base):
    """Declarative base with the catalog's own metadata."""

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING)


class Category(CatalogBase):
    """A product category, addressed by its slug."""

    __tablename__ = "categories"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Product(CatalogBase):
    """A product for sale: text, price in minor units, stock and free-form attributes."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        Index("ix_products_created_at_id", "created_at", "id"),
        Index("ix_products_price_amount_id", "price_amount", "id"),
        Index("ix_products_title_id", "title", "id"),
        Index("ix_products_category_created_at_id", "category", "created_at", "id"),
        Index("ix_products_category_price_amount_id", "category", "price_amount", "id"),
        Index("ix_products_brand", "brand"),
    )

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(36), unique=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("categories.slug", ondelete="RESTRICT")
    )
    tags: Mapped[list[str]] = mapped_column(JsonValue)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    images: Mapped[list[str]] = mapped_column(JsonValue)
    thumbnail: Mapped[str | None] = mapped_column(String(2048))
    on_hand: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def available(self) -> int:
        """Units that can still be reserved: on hand and not held for an order."""
        return self.on_hand - self.reserved


class ProductFields(TypedDict):
    """The columns of a product that its editors set (everything but keys and times)."""

    sku: str
    title: str
    brand: str | None
    description: str
    price_amount: int
    currency: str
    category: str | None
    tags: list[str]
    attributes: dict[str, Any]
    images: list[str]
    thumbnail: str | None
    on_hand: int
    rating: float | None


class ProductRow(ProductFields):
    """A product as a direct read gives it: its columns by name."""

    pk: int
    id: str
    reserved: int
    created_at: datetime
    updated_at: datetime


class ListedProductRow(ProductRow):
    """A product of a listing, with the value it is sorted by (for the next cursor)."""

    sort_key: Any


class PkRow(TypedDict):
    """A product's integer key alone."""

    pk: int


class FacetRow(TypedDict):
    """Counts of the products matching a search, for one brand and one price band.

    `matched` match every filter, `available` also have stock; `brand_facet` match
    every filter but the brand, `price_facet` every filter but the price.
    """

    brand: str | None
    band: int
    matched: int
    available: int
    brand_facet: int
    price_facet: int


class SearchWord(CatalogBase):
    """A word of the search vocabulary and how many products have it."""

    __tablename__ = "search_words"

    word: Mapped[str] = mapped_column(
        String(WORD_MAX)
        .with_variant(String(WORD_MAX, collation="C"), "postgresql")
        .with_variant(String(WORD_MAX, collation="utf8mb4_bin"), "mysql"),
        primary_key=True,
    )
    products: Mapped[int] = mapped_column(Integer)


class WordRow(TypedDict):
    """A word of the vocabulary with its number of products."""

    word: str
    products: int


class CategoryRow(TypedDict):
    """A category as the listing of categories reads it, with its number of products."""

    slug: str
    name: str
    product_count: int


class Reservation(CatalogBase):
    """Stock held for one order, keyed by the order's id, until it expires."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'committed', 'released')", name="status_known"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        Index("ix_reservations_status_expires_at", "status", "expires_at"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReservationItem(CatalogBase):
    """One product line of a reservation, with the unit price it was reserved at."""

    __tablename__ = "reservation_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    order_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("reservations.order_id", ondelete="CASCADE"),
        primary_key=True,
    )
    product_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)


class ProductImage(CatalogBase):
    """A picture uploaded for a product: its size as uploaded (oriented), and whence."""

    __tablename__ = "product_images"
    __table_args__ = (Index("ix_product_images_product_id_created_at", "product_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    product_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("products.id", ondelete="CASCADE")
    )
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source_type: Mapped[str] = mapped_column(String(32))
    source_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ImageVariant(CatalogBase):
    """One size of a picture, as served: its encoded bytes and their entity tag."""

    __tablename__ = "image_variants"
    __table_args__ = (
        CheckConstraint("variant IN ('thumb', 'medium', 'large')", name="variant_known"),
    )

    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("product_images.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    etag: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImageRow(TypedDict):
    """A product's picture as its listing reads it."""

    id: str
    product_id: str
    width: int
    height: int
    source_type: str
    source_bytes: int
    created_at: datetime


class VariantRow(TypedDict):
    """What serving one size of a picture reads: its bytes, their type and tag."""

    content_type: str
    etag: str
    data: bytes


class VariantTagRow(TypedDict):
    """What answering a revalidation reads: the entity tag alone, not the bytes."""

    etag: str


class ImportJob(CatalogBase):
    """An import's run and progress (`catalog.jobs`), kept so that every replica sees it."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('checking', 'writing', 'done', 'failed')", name="state_known"),
        Index("ix_import_jobs_started_at", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReturnRestock(CatalogBase):
    """A return's lines put back on hand, once: the return id is the key of the call."""

    __tablename__ = "return_restocks"

    return_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


EVENTS: EventTables = event_tables(CatalogBase.metadata)
