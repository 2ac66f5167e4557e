"""The shipping service's first schema: methods, rates, shipments, returns, cancelled
orders, outbox and inbox; and the default methods and rates, so that a new shop
quotes from the start.

The defaults are in the demo catalog's currency (USD), with EUR for the euro area:
`standard` and `express`, to the United States, the European Union and the rest of
the world (`*`), in two weight bands (5 kg, 30 kg; express only to 5 kg elsewhere
than the US), standard free within the US from 50 USD. Admins change them with the
API; they are written here once, never again.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.chassis.events import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)
EU = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
]  # fmt: skip
EURO = [c for c in EU if c not in {"BG", "CZ", "DK", "HU", "PL", "RO", "SE"}]
METHODS = [("standard", "Standard delivery", 3, 7), ("express", "Express delivery", 1, 2)]
# (id, method, countries, currency, max grams, price, free over)
RATES: list[tuple[str, str, list[str], str, int, int, int | None]] = [
    ("seed-std-us-5", "standard", ["US"], "USD", 5_000, 499, 5_000),
    ("seed-std-us-30", "standard", ["US"], "USD", 30_000, 999, 5_000),
    ("seed-std-eu-5", "standard", EU, "USD", 5_000, 1_499, None),
    ("seed-std-eu-30", "standard", EU, "USD", 30_000, 2_999, None),
    ("seed-std-row-5", "standard", ["*"], "USD", 5_000, 1_999, None),
    ("seed-std-row-30", "standard", ["*"], "USD", 30_000, 3_999, None),
    ("seed-exp-us-5", "express", ["US"], "USD", 5_000, 1_499, None),
    ("seed-exp-us-30", "express", ["US"], "USD", 30_000, 2_499, None),
    ("seed-exp-eu-5", "express", EU, "USD", 5_000, 2_999, None),
    ("seed-exp-row-5", "express", ["*"], "USD", 5_000, 4_999, None),
    ("seed-std-ea-5", "standard", EURO, "EUR", 5_000, 499, 5_000),
    ("seed-std-ea-30", "standard", EURO, "EUR", 30_000, 999, None),
    ("seed-exp-ea-5", "express", EURO, "EUR", 5_000, 1_299, None),
]


def _seed() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    methods = sa.table(
        "methods",
        *(sa.column(n) for n in ("code", "name", "min_days", "max_days", "active")),
        sa.column("created_at", TIME),
        sa.column("updated_at", TIME),
    )
    rates = sa.table(
        "rates",
        *(sa.column(n) for n in ("id", "method", "currency", "max_weight_grams", "price")),
        sa.column("countries", JSON_DOCUMENT),
        sa.column("free_over"),
        sa.column("created_at", TIME),
        sa.column("updated_at", TIME),
    )
    stamps = {"created_at": now, "updated_at": now}
    op.bulk_insert(
        methods,
        [
            {"code": c, "name": n, "min_days": lo, "max_days": hi, "active": True, **stamps}
            for c, n, lo, hi in METHODS
        ],
    )
    rows: list[dict[str, Any]] = [
        {
            "id": rid,
            "method": method,
            "countries": countries,
            "currency": currency,
            "max_weight_grams": grams,
            "price": price,
            "free_over": free_over,
            **stamps,
        }
        for rid, method, countries, currency, grams, price, free_over in RATES
    ]
    op.bulk_insert(rates, rows)


def upgrade() -> None:
    """Create the tables, their indexes and the event tables; write the defaults."""
    op.create_table(
        "methods",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "rates",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("countries", JSON_DOCUMENT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("max_weight_grams", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("free_over", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_rates_method", "rates", ["method"])
    op.create_table(
        "shipments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("address", JSON_DOCUMENT, nullable=True),
        sa.Column("split_from", sa.String(32), nullable=True),
        sa.Column("carrier", sa.String(100), nullable=True),
        sa.Column("tracking_number", sa.String(100), nullable=True),
        sa.Column("tracking_url", sa.String(2048), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("shipped_at", TIME, nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_shipments_order_id", "shipments", ["order_id"])
    op.create_index("ix_shipments_user_created", "shipments", ["user_id", "created_at", "id"])
    op.create_index("ix_shipments_created_at_id", "shipments", ["created_at", "id"])
    op.create_index("ix_shipments_status_updated", "shipments", ["status", "updated_at"])
    op.create_table(
        "returns",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("rejection_reason", sa.String(1000), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_returns_order_id", "returns", ["order_id"])
    op.create_index("ix_returns_user_created", "returns", ["user_id", "created_at", "id"])
    op.create_index("ix_returns_created_at_id", "returns", ["created_at", "id"])
    op.create_table(
        "cancelled_orders",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("cancelled_at", TIME, nullable=False),
    )
    create_event_tables(op)
    _seed()


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    drop_event_tables(op)
    for table in ("cancelled_orders", "returns", "shipments", "rates", "methods"):
        op.drop_table(table)
