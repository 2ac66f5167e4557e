"""The payments service's first schema: methods, payments, refunds, the simulated
provider's own tables, and the outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mercato.chassis.events import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps(*names: str) -> list[sa.Column[object]]:
    """Non-null timestamp columns named `names`."""
    return [sa.Column(name, sa.DateTime(timezone=True), nullable=False) for name in names]


def upgrade() -> None:
    """Create the service's tables, their indexes and the event tables."""
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("brand", sa.String(20), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("provider_token", sa.String(200), nullable=False),
        *_stamps("created_at"),
    )
    op.create_index("ix_payment_methods_user_id", "payment_methods", ["user_id", "created_at"])
    op.create_table(
        "payments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("payment_method_id", sa.String(64), nullable=False),
        sa.Column("provider_token", sa.String(200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(50), nullable=True),
        sa.Column("provider_charge_id", sa.String(100), nullable=True),
        *_stamps("created_at", "updated_at", "attempt_at"),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name="ck_payments_refunded"
        ),
    )
    op.create_index("ix_payments_user_id_created_at", "payments", ["user_id", "created_at", "id"])
    op.create_index("ix_payments_order_id", "payments", ["order_id"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(36), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(50), nullable=True),
        sa.Column("provider_refund_id", sa.String(100), nullable=True),
        *_stamps("created_at", "updated_at", "attempt_at"),
        sa.UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id", "created_at"])
    _create_simulated_provider()
    create_event_tables(op)


def _create_simulated_provider() -> None:
    """Create the simulated provider's own tables."""
    op.create_table(
        "simulated_provider_tokens",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("behaviour", sa.String(32), nullable=False),
        *_stamps("created_at"),
    )
    op.create_table(
        "simulated_provider_charges",
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("charge_id", sa.String(64), nullable=True, unique=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        *_stamps("created_at"),
    )
    op.create_table(
        "simulated_provider_refunds",
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("refund_id", sa.String(64), nullable=False, unique=True),
        sa.Column("charge_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        *_stamps("created_at"),
    )
    op.create_index(
        "ix_simulated_provider_refunds_charge_id", "simulated_provider_refunds", ["charge_id"]
    )


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    drop_event_tables(op)
    op.drop_index(
        "ix_simulated_provider_refunds_charge_id", table_name="simulated_provider_refunds"
    )
    for table in (
        "simulated_provider_refunds",
        "simulated_provider_charges",
        "simulated_provider_tokens",
    ):
        op.drop_table(table)
    op.drop_index("ix_refunds_payment_id", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("ix_payments_order_id", table_name="payments")
    op.drop_index("ix_payments_user_id_created_at", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_payment_methods_user_id", table_name="payment_methods")
    op.drop_table("payment_methods")
