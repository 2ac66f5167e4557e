"""Lists by status: the console's "to pack", "to ship", "to decide" read one status.

`GET /api/shipping/shipments?status=` and `/returns?status=` page newest first within
one status; these indexes give each such page its rows in order, without reading the
other statuses' rows. Indexes only: nothing existing changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_shipments_status_created": "shipments",
    "ix_returns_status_created": "returns",
}


def upgrade() -> None:
    """Index each list by (status, created_at, id)."""
    for name, table in INDEXES.items():
        op.create_index(name, table, ["status", "created_at", "id"])


def downgrade() -> None:
    """Drop the indexes."""
    for name, table in INDEXES.items():
        op.drop_index(name, table_name=table)
