"""Alembic environment of the users service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.users.models import UsersBase

run_alembic_env(UsersBase.metadata)
