"""Alembic environment of the logs service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.logs.models import LogsBase

run_alembic_env(LogsBase.metadata)
