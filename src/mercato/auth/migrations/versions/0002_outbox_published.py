"""The outbox's published rows indexed by `published_at`, for the relay's pruning
(`mercato.chassis.events.tables`, where the why is). An index only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from mercato.chassis.events import create_published_index, drop_published_index

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the published rows by `published_at`."""
    create_published_index(op)


def downgrade() -> None:
    """Drop the index."""
    drop_published_index(op)
