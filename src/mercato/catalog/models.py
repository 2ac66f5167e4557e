"""The catalog's tables: categories and products, plus its outbox and inbox.

Products have two keys: `id`, the UUID that the API shows, and `pk`, an integer
surrogate that never leaves the database. SQLite's full-text index (`products_fts`,
an FTS5 table over the products' text, created with its triggers in the migration)
is keyed by `pk`, because an implicit rowid may change on VACUUM or on a table
rebuild while a declared INTEGER PRIMARY KEY does not. PostgreSQL's full-text
document is a generated `search` column (also created in the migration) that the
ORM does not map.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from mercato.chassis.database import Base
from mercato.chassis.events import EventTables, event_tables

__all__ = [
    "EVENTS",
    "MIGRATIONS",
    "CatalogBase",
    "Category",
    "JsonValue",
    "Product",
    "ProductFields",
    "UtcDateTime",
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


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware timestamps in UTC."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read naive timestamps as UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


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
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        Index("ix_products_created_at_id", "created_at", "id"),
        Index("ix_products_price_amount_id", "price_amount", "id"),
        Index("ix_products_title_id", "title", "id"),
        Index("ix_products_category", "category"),
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
    stock: Mapped[int] = mapped_column(Integer)
    rating: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


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
    stock: int
    rating: float | None


EVENTS: EventTables = event_tables(CatalogBase.metadata)
