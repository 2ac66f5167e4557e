"""Alembic environment of the notifications service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.notifications.models import NotificationsBase

run_alembic_env(NotificationsBase.metadata)
