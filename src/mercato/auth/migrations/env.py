"""Alembic environment of the auth service: runs through `mercato.chassis.data.migrations`."""

from mercato.auth.models import AuthBase
from mercato.chassis.data.migrations import run_alembic_env

run_alembic_env(AuthBase.metadata)
