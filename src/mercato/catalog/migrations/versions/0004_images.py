"""Product images: each upload and its variants (the bytes served), in the database.

`product_images` holds a picture of a product (its oriented size as uploaded, its
original media type and length) and `image_variants` each size it is served at
(`thumb`, `medium`, `large`): the re-encoded bytes, their media type, size and
entity tag. Both are deleted with their product (and a variant with its picture).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_images",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(32), nullable=False),
        sa.Column("source_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name="fk_product_images_product_id_products",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_product_images"),
    )
    op.create_index(
        "ix_product_images_product_id_created_at",
        "product_images",
        ["product_id", "created_at"],
    )
    op.create_table(
        "image_variants",
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("variant", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "variant IN ('thumb', 'medium', 'large')",
            name=op.f("ck_image_variants_variant_known"),
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["product_images.id"],
            name="fk_image_variants_image_id_product_images",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", "variant", name="pk_image_variants"),
    )


def downgrade() -> None:
    op.drop_table("image_variants")
    if op.get_bind().dialect.name != "mysql":  # there its foreign key needs it: goes with it
        op.drop_index("ix_product_images_product_id_created_at", table_name="product_images")
    op.drop_table("product_images")
