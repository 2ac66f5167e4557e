"""Alembic environment of the orders service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.orders.models import OrdersBase

run_alembic_env(OrdersBase.metadata)
