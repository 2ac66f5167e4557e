"""Alembic environment of the payments service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.payments.models import PaymentsBase
from mercato.payments.simulated import SimulatedToken  # noqa: F401  (its tables join the metadata)

run_alembic_env(PaymentsBase.metadata)
