"""The inbox indexed by `handled_at`, for the relay's pruning of old rows
(`mercato.chassis.events.relay`, where the why is). An index only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from mercato.chassis.events import create_handled_index, drop_handled_index

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the inbox by `handled_at`."""
    create_handled_index(op)


def downgrade() -> None:
    """Drop the index."""
    drop_handled_index(op)
