"""Alembic environment of the shipping service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.shipping.models import ShippingBase

run_alembic_env(ShippingBase.metadata)
